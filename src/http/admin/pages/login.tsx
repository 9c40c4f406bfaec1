import { ErrorNotice } from "../components.tsx";
import { BASE, Layout } from "../layout.tsx";

/** The login form; `csrf` is signed from the login cookie set with it (login CSRF). */
export function LoginPage(props: { csrf: string; error?: string | undefined }) {
  return (
    <Layout title="Log in" current="">
      <h1>Log in</h1>
      <ErrorNotice error={props.error} />
      <form method="post" action={`${BASE}/login`}>
        <input type="hidden" name="_csrf" value={props.csrf} />
        <label>
          Admin token (yours from ADMIN_USERS, or a website's own dashboard token)
          <input type="password" name="token" autocomplete="current-password" required />
        </label>
        <label>
          Website id (optional: with a website's token, logs in even while the admin login is throttled)
          <input name="website" autocomplete="off" />
        </label>
        <p>
          <button type="submit">Log in</button>
        </p>
      </form>
    </Layout>
  );
}
