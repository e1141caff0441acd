import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../src/processes';

/** What a `nasrl` run printed and how it ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
}

/** Runs the `nasrl` command with extra environment variables; killed with SIGKILL after `timeoutMs`. */
export function runNasrl(args: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot(), 'packages/cli/bin/nasrl.js'), ...args], { cwd: repoRoot(), env: { ...process.env, ...env } });
    const run: CliRun = { code: null, stdout: '', stderr: '', output: '' };
    child.stdout.on('data', (d) => {
      run.stdout += String(d);
      run.output += String(d);
    });
    child.stderr.on('data', (d) => {
      run.stderr += String(d);
      run.output += String(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ ...run, code });
    });
  });
}
