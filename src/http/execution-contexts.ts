import { HttpException, type ExecutionContext } from '@nestjs/common';
import type { Subject } from '../subject/subject.js';
import type { HttpRequestLike } from './token-transport.js';
import { optionalPeers } from './optional-peers.js';
import { subjectOf } from './subject-of.js';

/**
 * Where the guard finds a request outside plain HTTP: the handshake of a WebSocket client, and the HTTP request
 * behind a GraphQL operation; and how it answers there, with the transport's own error.
 */

/** The upgrade request of each socket that asked for one, by its TCP socket (recorded by `HandshakeRecorder`). */
const upgrades = new WeakMap<object, HttpRequestLike>();

/** @internal Remembers the HTTP request that asked to upgrade `socket` to a WebSocket. */
export function recordUpgrade(request: HttpRequestLike, socket: object): void {
  upgrades.set(socket, request);
}

/**
 * The handshake request of a gateway client: socket.io keeps it as `socket.request`; a `ws` WebSocket does not keep
 * it, so it is the upgrade request recorded for the client's TCP socket (the app's own HTTP server only).
 */
export function handshakeOf(client: unknown): HttpRequestLike | null {
  if (!client || typeof client !== 'object') return null;
  const request = (client as { request?: HttpRequestLike }).request;
  if (request && typeof request === 'object' && request.headers) return request;
  const socket = (client as { _socket?: object })._socket;
  return (socket && upgrades.get(socket)) ?? null;
}

/** The HTTP request and response behind a GraphQL operation: Apollo's `{ req, res }`, Mercurius's `{ reply }`. */
export function graphqlExchange(context: ExecutionContext): {
  request: HttpRequestLike | null;
  response?: unknown;
} {
  const gql = context.getArgByIndex<Record<string, unknown> | undefined>(2);
  if (!gql || typeof gql !== 'object') return { request: null };
  const reply = gql.reply as { request?: HttpRequestLike } | undefined;
  const request = (gql.req ?? gql.request ?? reply?.request) as HttpRequestLike | undefined;
  return request ? { request, response: gql.res ?? reply } : { request: null };
}

/**
 * The Subject of each gateway message, by the message's data when it is an object (Nest hands the guard and the
 * parameter decorators the same data, but not the same argument list), and by the client: the most recent one
 * resolved for it, for data that is not an object.
 */
const messageSubjects = new WeakMap<object, Subject>();

/** @internal Keeps the Subject the guard resolved for one gateway message. */
export function keepMessageSubject(context: ExecutionContext, subject: Subject): void {
  const client = context.getArgByIndex<unknown>(0);
  const data = context.getArgByIndex<unknown>(1);
  if (client && typeof client === 'object') messageSubjects.set(client, subject);
  if (data && typeof data === 'object') messageSubjects.set(data, subject);
}

/**
 * The Subject already resolved for this very message (a second guard on it, e.g. a global one and the gateway's own),
 * when its data is an object; `undefined` otherwise.
 */
export function subjectOfMessageData(context: ExecutionContext): Subject | undefined {
  const data = context.getArgByIndex<unknown>(1);
  return data && typeof data === 'object' ? messageSubjects.get(data) : undefined;
}

function subjectOfMessage(context: ExecutionContext): Subject | undefined {
  const byData = subjectOfMessageData(context);
  if (byData) return byData;
  const client = context.getArgByIndex<unknown>(0);
  return client && typeof client === 'object' ? messageSubjects.get(client) : undefined;
}

/**
 * The Subject `YosaiGuard` resolved for this execution context (HTTP, a gateway message or a GraphQL operation), or
 * `undefined` when the guard did not run for it.
 */
export function subjectOfContext(context: ExecutionContext): Subject | undefined {
  const type = context.getType<string>();
  if (type === 'ws') return subjectOfMessage(context);
  if (type === 'graphql') {
    const { request, response } = graphqlExchange(context);
    return request ? subjectOf(request, response) : undefined;
  }
  const request = context.getArgByIndex<object | undefined>(0);
  return request ? subjectOf(request, context.getArgByIndex<unknown>(1)) : undefined;
}

/** GraphQL's error codes (as Apollo names them) for the HTTP statuses the guard answers with. */
const CODES: Record<number, string> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  413: 'PAYLOAD_TOO_LARGE',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * The guard's refusal in the transport's own terms: a `WsException` for a gateway (`{ status, code, message }`,
 * which Nest's filter sends as is) and a `GraphQLError` with `extensions.code` for GraphQL. HTTP, and anything that
 * is not an HTTP exception, is returned unchanged.
 */
export function inTransportTerms(type: string, error: unknown): unknown {
  if (!(error instanceof HttpException) || (type !== 'ws' && type !== 'graphql')) return error;
  const status = error.getStatus();
  const code = CODES[status] ?? 'INTERNAL_SERVER_ERROR';
  const body = error.getResponse();
  const message =
    typeof body === 'string'
      ? body
      : typeof (body as { message?: unknown }).message === 'string'
        ? (body as { message: string }).message
        : error.message;
  const { WsException, GraphQLError } = optionalPeers();
  if (type === 'ws' && WsException) return new WsException({ status: 'error', code, message });
  if (type === 'graphql' && GraphQLError) return new GraphQLError(message, { extensions: { code } });
  return error;
}
