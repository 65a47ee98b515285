import { errorMessage, frameText } from '@kiln/common';
import { MasterEnv } from '@kiln/config';
import {
  AgentCall,
  InvalidMessageError,
  MAX_CALLS_PER_FRAME,
  MAX_FRAME_BYTES,
  parseMessage,
  POLICY_VIOLATION,
  SchedulerCall,
  type CallFailure,
} from '@kiln/contracts';
import {
  HttpException,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { ClusterToken } from '../auth/cluster-token.guard';
import { MasterService } from '../cluster/master.service';
import { SocketEventStream } from './socket-event-stream';

type Api = 'agent' | 'scheduler';

const PATHS: Readonly<Record<string, Api>> = {
  '/api/v1/agent': 'agent',
  '/api/v1/scheduler': 'scheduler',
};

/**
 * The master's WebSocket endpoint for agents and frameworks (see `socket.messages.ts`): an upgrade
 * of a request to the agent or scheduler API's path, with the cluster token. Each connection's
 * first call must be SUBSCRIBE; its later calls are checked and carried out exactly as the HTTP
 * API's are, by the same methods of the master. A refused call is answered in the next frame and
 * the connection stays open; a frame that is not one closes it.
 */
@Injectable()
export class ClusterSocketServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterSocketServer.name);
  private readonly token: ClusterToken;
  private readonly server = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_FRAME_BYTES,
  });

  constructor(
    env: MasterEnv,
    private readonly adapterHost: HttpAdapterHost,
    private readonly master: MasterService,
  ) {
    this.token = new ClusterToken(env.KILN_CLUSTER_TOKEN);
  }

  onApplicationBootstrap(): void {
    const http = this.adapterHost.httpAdapter.getHttpServer() as Server;
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(request, socket, head),
    );
  }

  onApplicationShutdown(): void {
    for (const client of this.server.clients) client.terminate();
    this.server.close();
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const api = PATHS[new URL(request.url ?? '/', 'http://master').pathname];
    if (api === undefined) return refuse(socket, 404, 'no WebSocket is served at this path');
    try {
      this.token.check(request.headers.authorization);
    } catch (error) {
      return refuse(socket, 401, errorMessage(error));
    }
    this.server.handleUpgrade(request, socket, head, (ws) => this.serve(api, ws));
  }

  private serve(api: Api, ws: WebSocket): void {
    let subscribed = false;
    let seq = 0;
    let onClose = (): void => undefined;
    const stream = new SocketEventStream(ws, () => onClose());
    ws.on('message', (data, isBinary) => {
      const calls = isBinary ? undefined : callsOf(data);
      if (calls === undefined) {
        ws.close(
          POLICY_VIOLATION,
          `a frame must be JSON {"calls": [...]} of at most ${MAX_CALLS_PER_FRAME} calls`,
        );
        return;
      }
      for (const json of calls) {
        const type = typeOf(json);
        const number = seq;
        seq += 1;
        try {
          if (subscribed) {
            this.carryOut(api, json, stream.id);
            continue;
          }
          if (type !== 'SUBSCRIBE') {
            throw new HttpException('the first call on a connection must be SUBSCRIBE', 400);
          }
          onClose = this.subscribe(api, json, stream);
          subscribed = true;
        } catch (error) {
          stream.refuse(this.failure(number, type, error));
        }
      }
      stream.processed(seq);
    });
    ws.on('error', (error) => this.logger.debug(`a ${api} connection failed: ${error.message}`));
  }

  /** Subscribes on `stream`; returns what its closing means to the master. */
  private subscribe(api: Api, json: unknown, stream: SocketEventStream): () => void {
    if (api === 'agent') {
      const { subscribe } = parseMessage(AgentCall, json);
      if (subscribe === undefined) throw new HttpException('subscribe is required', 400);
      this.master.subscribeAgent(subscribe, () => stream);
      const agentId = subscribe.agentInfo.id;
      return () => this.master.agentDisconnected(agentId, stream);
    }
    const { subscribe } = parseMessage(SchedulerCall, json);
    if (subscribe === undefined) throw new HttpException('subscribe is required', 400);
    const frameworkId = this.master.subscribeFramework(subscribe.frameworkInfo, stream);
    return () => this.master.frameworkDisconnected(frameworkId, stream);
  }

  private carryOut(api: Api, json: unknown, streamId: string): void {
    if (api === 'agent') this.master.handleAgentCall(parseMessage(AgentCall, json), streamId);
    else this.master.handleSchedulerCall(parseMessage(SchedulerCall, json), streamId);
  }

  private failure(seq: number, call: string, error: unknown): CallFailure {
    if (error instanceof InvalidMessageError) {
      return { seq, call, status: 400, message: error.message };
    }
    if (error instanceof HttpException) {
      return { seq, call, status: error.getStatus(), message: error.message };
    }
    this.logger.error(`a ${call} call failed: ${errorMessage(error)}`);
    return { seq, call, status: 500, message: 'the master failed to carry out the call' };
  }
}

function callsOf(data: WebSocket.RawData): unknown[] | undefined {
  try {
    const frame = JSON.parse(frameText(data)) as { calls?: unknown } | null;
    const calls = frame?.calls;
    return Array.isArray(calls) && calls.length <= MAX_CALLS_PER_FRAME ? calls : undefined;
  } catch {
    return undefined;
  }
}

function typeOf(json: unknown): string {
  const type = (json as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type.slice(0, 40) : 'unknown';
}

/** Answers an upgrade the master will not make with a plain HTTP error, as its routes would. */
function refuse(socket: Duplex, status: 401 | 404, message: string): void {
  const body = JSON.stringify({ statusCode: status, message });
  const reason = status === 401 ? 'Unauthorized' : 'Not Found';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
