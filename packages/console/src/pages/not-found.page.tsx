import { Link } from '../router.tsx';

/** A console path no route matches, or a page the session's role may not see. */
export default function NotFoundPage() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>This page does not exist, or your role does not include it.</p>
      <p>
        <Link to="/">Back to payloads</Link>
      </p>
    </section>
  );
}
