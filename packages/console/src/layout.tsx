import type { ReactNode } from 'react';
import { Link, useRouter } from './router.tsx';
import { ROUTES } from './routes.tsx';
import { useSession } from './session.tsx';

/** The signed-in frame: skip link, header with the role-aware navigation, the page. */
export function Layout({ children }: { readonly children: ReactNode }) {
  const { state, can, signOut } = useSession();
  const { location, navigate } = useRouter();
  const info = state.status === 'signed-in' ? state.info : undefined;
  const visible = ROUTES.filter((r) => r.nav !== undefined && (r.permission === undefined || can(r.permission)));
  const isCurrent = (path: string): boolean => (path === '/' ? location.path === '/' || location.path.startsWith('/payloads') : location.path.startsWith(path));
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          Sealpost
        </Link>
        <nav aria-label="Main">
          <ul>
            {visible.map((r) => (
              <li key={r.path}>
                <Link to={r.path} aria-current={isCurrent(r.path) ? 'page' : undefined}>
                  {r.nav}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {info ? (
          <div className="who">
            <span className="small">
              {info.operator.email} · <span className="role">{info.operator.role}</span>
            </span>
            <button type="button" className="button-small" onClick={() => void signOut().then(() => navigate('/', { replace: true }))}>
              Sign out
            </button>
          </div>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
