/**
 * The cluster's WebSocket protocol. Agents and frameworks may hold one long-lived WebSocket to
 * the master at the path of their HTTP API (`/api/v1/agent`, `/api/v1/scheduler`) instead of a
 * stream plus a POST per call. The messages are the same calls and events, with the same rules;
 * only the transport changes: whatever one side has to send within one turn of its event loop
 * travels in one frame, so a burst of status updates, acknowledgements or launches costs one
 * write, not one HTTP request each.
 *
 * A connection begins with a frame whose first call is SUBSCRIBE; the master answers with
 * SUBSCRIBED, like the HTTP stream's first event. The connection is the subscription: calls on it
 * need no stream id, and closing it is a disconnection.
 *
 * Calls are numbered by their order on the connection, from 0. Instead of an HTTP status per call,
 * the master acknowledges them cumulatively: `processed: n` says it has carried out (or refused)
 * every call before the n-th, and lists the refused ones in `failures` with the status HTTP would
 * have answered.
 */

/** A frame from an agent or a framework: its calls, in the order they were made. */
export interface CallFrame {
  calls: unknown[];
}

/** A frame from the master: its events in order, and how far it got with the client's calls. */
export interface EventFrame<E> {
  events?: E[];
  /** Refused calls since the previous frame. */
  failures?: CallFailure[];
  /** Every call numbered below this has been carried out or refused. */
  processed?: number;
}

/**
 * A call the master refused. Over HTTP it would have been answered with this status; here the
 * connection stays open, as one bad call must not end a subscription.
 */
export interface CallFailure {
  /** The call's number on its connection. */
  seq: number;
  /** The refused call's type (`ACCEPT`, `UPDATE`…). */
  call: string;
  status: number;
  message: string;
}

/** The most calls one frame may carry: a larger frame is refused whole. */
export const MAX_CALLS_PER_FRAME = 10_000;

/**
 * The largest frame the master reads, and the largest body of one call over HTTP. A larger frame
 * closes the connection (code 1009), a larger body is answered `413`. The master parses a frame
 * whole before anything else runs, so the bound is what one client can hold it up for: 16 MiB
 * parse in well under a second where 64 MiB took seconds on a busy machine. The largest calls
 * Kiln makes fit many times over (an ACCEPT of 30,000 tasks is about 4 MiB, a RECONCILE of the
 * most tasks one may name under 1 MiB); a client splits a tick's calls into frames within it.
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** The close code the master uses when a connection misbehaves (RFC 6455: policy violation). */
export const POLICY_VIOLATION = 1008;
