/**
 * The `nasrl` command (bin/nasrl.js runs dist/src/main.js). As a library it exports what the tests of other
 * projects (test/) need to run the command:
 *
 *   const { code, output } = await runNasrl(['local', '--help'], {}, 60_000);
 */
export { runNasrl, startNasrl, type CliRun, type NasrlProcess } from './testing';
