// The thread that compiles pipeline files for the server: see pipeline-compiler.ts.
import { compilePipeline, PipelineConfigError } from '@kiln/pipeline';
import { parentPort } from 'node:worker_threads';
import type { CompileAnswer, CompileRequest } from './pipeline-compiler';

// A first compile pays for what the compiler sets up once (its checks' metadata, code compiled on
// first use): paid here, so that the first file's clock counts only the file.
compilePipeline('jobs:\n  warm:\n    steps:\n      - run: make\n', {
  event: 'push',
  branch: 'main',
});
// Loaded: from here on a file's time is its own, not the thread's start.
parentPort?.postMessage({ ready: true } satisfies CompileAnswer);

parentPort?.on('message', (request: CompileRequest) => {
  let answer: CompileAnswer;
  try {
    answer = {
      id: request.id,
      compiled: compilePipeline(request.source, request.context, request.fileName),
    };
  } catch (error) {
    answer =
      error instanceof PipelineConfigError
        ? { id: request.id, problems: [...error.problems] }
        : { id: request.id, failure: error instanceof Error ? error.message : String(error) };
  }
  parentPort?.postMessage(answer);
});
