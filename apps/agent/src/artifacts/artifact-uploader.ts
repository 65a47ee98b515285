import { errorMessage } from '@kiln/common';
import { ARTIFACT_SHA256_HEADER, type ArtifactSinkInfo } from '@kiln/contracts';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { collectArtifacts, quotedName, type ArtifactFile } from './artifact-collector';
import { requestWithRetries } from './artifact-request';

/** What uploading a task's artifacts did, one line per file, for the job's log. */
export interface ArtifactUploadReport {
  uploaded: number;
  failed: number;
  lines: string[];
}

/**
 * Uploads the artifacts of a finished task's sandbox to the server: each file hashed first,
 * then streamed (`PUT <url>/<name>`), a failed upload retried a few times; what was refused or
 * failed is said in `lines` (`kiln: artifact …`), never thrown. `signal` bounds the whole.
 */
export async function uploadArtifacts(
  sandbox: string,
  sink: ArtifactSinkInfo,
  signal: AbortSignal,
): Promise<ArtifactUploadReport> {
  const report: ArtifactUploadReport = { uploaded: 0, failed: 0, lines: [] };
  const { files, refused, moreRefused, stopped } = await collectArtifacts(
    sandbox,
    sink.patterns,
    signal,
  );
  for (const { name, reason } of refused) {
    report.lines.push(`kiln: artifact ${quotedName(name)}: refused: ${reason}`);
  }
  if (moreRefused > 0) report.lines.push(`kiln: artifacts: ${moreRefused} more refused`);
  if (stopped !== undefined) {
    report.lines.push(`kiln: artifacts: ${stopped}; what it did not reach is not uploaded`);
  }
  if (files.length === 0 && refused.length === 0) {
    report.lines.push(`kiln: artifacts: nothing matches ${sink.patterns.join(', ')}`);
  }
  for (const file of files) {
    try {
      await uploadOne(file, sink, signal);
      report.uploaded += 1;
      report.lines.push(`kiln: artifact ${file.name}: uploaded (${file.size} bytes)`);
    } catch (error) {
      report.failed += 1;
      report.lines.push(`kiln: artifact ${file.name}: upload failed: ${errorMessage(error)}`);
      if (signal.aborted) break;
    }
  }
  return report;
}

async function uploadOne(
  file: ArtifactFile,
  sink: ArtifactSinkInfo,
  signal: AbortSignal,
): Promise<void> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file.path), hash, { signal });
  const sha256 = hash.digest('hex');
  const url = `${sink.url.replace(/\/+$/, '')}/${file.name.split('/').map(encodeURIComponent).join('/')}`;
  await requestWithRetries(
    () =>
      fetch(url, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${sink.token}`,
          'content-type': 'application/octet-stream',
          'content-length': String(file.size),
          [ARTIFACT_SHA256_HEADER]: sha256,
        },
        body: Readable.toWeb(createReadStream(file.path)) as ReadableStream<Uint8Array>,
        duplex: 'half',
        signal,
      }),
    (res) => res.text(),
    signal,
  );
}
