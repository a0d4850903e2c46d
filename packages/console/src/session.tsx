import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { get, post, setCsrfToken } from './api/client.ts';
import { ApiError } from './api/problem.ts';
import type { Permission, SessionInfo } from './api/types.ts';

type SessionState =
  | { readonly status: 'loading' }
  | { readonly status: 'signed-out' }
  | { readonly status: 'signed-in'; readonly info: SessionInfo };

interface SessionApi {
  readonly state: SessionState;
  /** Reads the session again (after sign-in, a second factor, an enrolment). */
  refresh(): Promise<void>;
  /** A route that rotated the session handed back a new CSRF token. */
  adoptCsrf(token: string | undefined): void;
  signOut(): Promise<void>;
  can(permission: Permission): boolean;
}

const SessionContext = createContext<SessionApi | undefined>(undefined);

/** The operator's session as the server sees it (`GET /v1/auth/session`); no copy kept anywhere but memory. */
export function SessionProvider({ children }: { readonly children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  const refresh = useCallback(async () => {
    try {
      const info = await get<SessionInfo>('/v1/auth/session');
      setCsrfToken(info.csrf_token);
      setState({ status: 'signed-in', info });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        setCsrfToken(undefined);
        setState({ status: 'signed-out' });
        return;
      }
      throw err;
    }
  }, []);

  useEffect(() => {
    refresh().catch(() => setState({ status: 'signed-out' }));
  }, [refresh]);

  const signOut = useCallback(async () => {
    try {
      await post('/v1/auth/logout');
    } finally {
      setCsrfToken(undefined);
      setState({ status: 'signed-out' });
    }
  }, []);

  const value = useMemo<SessionApi>(
    () => ({
      state,
      refresh,
      adoptCsrf: (token) => {
        if (token) setCsrfToken(token);
      },
      signOut,
      can: (permission) => state.status === 'signed-in' && state.info.session.second_factor_satisfied && state.info.permissions.includes(permission),
    }),
    [state, refresh, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const api = useContext(SessionContext);
  if (!api) throw new Error('useSession outside SessionProvider');
  return api;
}
