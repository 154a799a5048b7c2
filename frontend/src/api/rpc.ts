// The typed call(): service, method, arguments and result are checked by tsc against
// generated.ts (written from the Go services by `make generate`), so a wrapper that no
// longer matches Go fails the frontend build instead of failing for users.
import { call as untypedCall } from './client';
import type { Methods } from './generated';

export type ServiceName = keyof Methods;
export type MethodName<S extends ServiceName> = keyof Methods[S] & string;
export type Params<S extends ServiceName, M extends MethodName<S>> = Methods[S][M] extends { params: infer P extends unknown[] }
  ? P
  : never;
export type Result<S extends ServiceName, M extends MethodName<S>> = Methods[S][M] extends { result: infer R } ? R : never;

export function call<S extends ServiceName, M extends MethodName<S>>(
  service: S,
  method: M,
  ...args: Params<S, M>
): Promise<Result<S, M>> {
  return untypedCall<Result<S, M>>(service, method, ...args);
}
