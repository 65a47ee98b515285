import type { Command } from 'commander';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describe } from '../api-client';
import type { Artifact } from '../api-types';
import { CommandContext, positiveInteger, type CliIo } from '../context';
import { ApiError, NotFoundError, UsageError } from '../errors';
import { formatBytes, table } from '../output';

/** One artifact as `kiln artifacts --json` lists it: the API's fields and whose it is. */
interface JobArtifact extends Artifact {
  job: string;
  jobId: string;
}

export function registerArtifacts(program: Command, io: CliIo): void {
  const artifacts = program
    .command('artifacts')
    .description("list the files a run's jobs kept; `artifacts download` fetches one")
    .argument('<repo>', 'repository id or owner/name')
    .argument('<run-number>', 'the run, by its number', positiveInteger('the run number'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kiln artifacts acme/app 42\n' +
        '  kiln artifacts download acme/app 42 build out/app.tar.gz -o app-42.tar.gz\n\n' +
        "Lists each job's latest attempt; --json has the full sha256 of each file.",
    )
    .action(async (repo: string, number: number, _options: unknown, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const client = ctx.client();
      const run = await client.getRun((await ctx.run(repo, number)).id);
      const perJob = await Promise.all(
        run.jobs.map(async (job) =>
          (await client.listArtifacts(job.id)).map((artifact): JobArtifact => ({
            job: job.key,
            jobId: job.id,
            ...artifact,
          })),
        ),
      );
      const all = perJob.flat();
      if (ctx.json) return ctx.printJson(all);
      if (all.length === 0) return ctx.note(`run #${number} of ${repo} kept no artifacts`);
      ctx.out(
        table(
          ['JOB', 'NAME', 'SIZE', 'SHA256'],
          all.map((a) => [a.job, a.name, formatBytes(a.size), a.sha256.slice(0, 12)]),
        ),
      );
    });

  artifacts
    .command('download')
    .description('save one artifact to a file, checked against its sha256')
    .argument('<repo>', 'repository id or owner/name')
    .argument('<run-number>', 'the run, by its number', positiveInteger('the run number'))
    .argument('<job>', 'the job that kept it, by its key (or id)')
    .argument('<name>', 'the artifact, as `kiln artifacts` lists it (out/app.tar.gz)')
    .option(
      '-o, --output <file>',
      'where to save it (default: the last part of its name, in the current directory)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kiln artifacts download acme/app 42 build out/app.tar.gz     # saves ./app.tar.gz\n' +
        '  kiln artifacts download acme/app 42 build out/app.tar.gz -o /tmp/\n\n' +
        'The bytes are hashed as they arrive and checked against the x-kiln-sha256 the server\n' +
        'sends; a file that does not match is not kept (exit 3). An existing file is replaced\n' +
        'only by a download that matched.',
    )
    .action(
      async (
        repo: string,
        number: number,
        jobRef: string,
        name: string,
        options: { output?: string },
        command: Command,
      ) => {
        const ctx = CommandContext.of(io, command);
        if (name === '' || name.endsWith('/')) {
          throw new UsageError(`'${name}' is not an artifact name: name a file`);
        }
        const client = ctx.client();
        const run = await client.getRun((await ctx.run(repo, number)).id);
        const job = run.jobs.find((j) => j.key === jobRef || j.id === jobRef.toLowerCase());
        if (job === undefined) {
          const keys = run.jobs.map((j) => j.key).join(', ') || 'none';
          throw new NotFoundError(
            `run #${number} of ${repo} has no job '${jobRef}' (jobs: ${keys})`,
          );
        }
        const cwd = io.cwd ?? process.cwd();
        let target = resolve(cwd, options.output ?? basename(name));
        if (isDirectory(target)) target = join(target, basename(name));

        const artifact = await client.downloadArtifact(job.id, name);
        const expected = artifact.sha256?.toLowerCase();
        if (expected === undefined) {
          await artifact.body.cancel();
          throw new ApiError(
            `the server sent ${name} without its x-kiln-sha256 header: it cannot be checked, ` +
              'so it was not saved',
            undefined,
          );
        }
        // Written beside the target and renamed into place once checked: a partial or corrupt
        // download never takes the target's name, nor replaces what was there.
        const partial = join(
          dirname(target),
          `.${basename(target)}.${randomBytes(4).toString('hex')}.part`,
        );
        const hash = createHash('sha256');
        let size = 0;
        async function* counted(): AsyncGenerator<Uint8Array> {
          try {
            for await (const chunk of artifact.body) {
              hash.update(chunk);
              size += chunk.byteLength;
              yield chunk;
            }
          } catch (error) {
            throw new ApiError(
              `the download of ${name} broke off after ${size} bytes: ${describe(error)}`,
              undefined,
            );
          }
        }
        try {
          await pipeline(counted(), createWriteStream(partial, { flags: 'wx' }));
          const actual = hash.digest('hex');
          if (actual !== expected) {
            throw new ApiError(
              `${name} does not match its checksum (sha256 of the ${size} bytes received: ` +
                `${actual}, the server's: ${expected}): the file was removed`,
              undefined,
            );
          }
          await rename(partial, target);
        } catch (error) {
          await rm(partial, { force: true });
          throw error;
        }
        if (ctx.json) {
          return ctx.printJson({
            path: target,
            job: job.key,
            jobId: job.id,
            name,
            size,
            sha256: expected,
          });
        }
        ctx.out(
          `Saved ${name} of ${job.key} (run #${number}) to ${shown(cwd, target)}: ` +
            `${formatBytes(size)}, sha256 checked\n`,
        );
      },
    );
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A path as people typed it: relative to where they are, when it is under it. */
function shown(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
