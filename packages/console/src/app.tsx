import { Suspense, useEffect } from 'react';
import { Layout } from './layout.tsx';
import { matchPath, useRouter } from './router.tsx';
import { NOT_FOUND, ROUTES } from './routes.tsx';
import { useSession } from './session.tsx';
import { SignIn } from './sign-in/sign-in.tsx';

/** Signed out or mid-sign-in: the sign-in flow; signed in: the page the path names. */
export function App() {
  const { state, can } = useSession();
  const { location } = useRouter();

  const matched = ROUTES.map((route) => ({ route, params: matchPath(route.path, location.path) })).find((m) => m.params !== undefined);
  const title = matched?.route.title ?? 'Not found';
  useEffect(() => {
    document.title = `${state.status === 'signed-in' && state.info.session.second_factor_satisfied ? title : 'Sign in'} · Sealpost`;
  }, [title, state]);

  if (state.status === 'loading') return <p className="loading" role="status">Loading…</p>;
  if (state.status === 'signed-out' || !state.info.session.second_factor_satisfied) return <SignIn />;

  const Page = matched && (matched.route.permission === undefined || can(matched.route.permission)) ? matched.route.page : NOT_FOUND;
  return (
    <Layout>
      <Suspense fallback={<p role="status">Loading…</p>}>
        <Page params={matched?.params ?? {}} />
      </Suspense>
    </Layout>
  );
}
