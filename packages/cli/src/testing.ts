import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '@nasrl/supervisor';

// Running the `nasrl` command as a child process, for the CLI's own tests and the cross-service tests in test/.

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

/** A `nasrl` process started in the background: its own process group, as a terminal's foreground job. */
export interface NasrlProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  readonly exited: Promise<number | null>;
}

/** Starts `nasrl` in a process group of its own (Ctrl-C is `process.kill(-child.pid, 'SIGINT')`). */
export function startNasrl(args: readonly string[], env: Record<string, string>): NasrlProcess {
  const child = spawn(process.execPath, [path.join(repoRoot(), 'packages/cli/bin/nasrl.js'), ...args], {
    cwd: repoRoot(), env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += String(d)));
  child.stderr?.on('data', (d) => (output += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}
