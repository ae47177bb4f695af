import { LoginForms } from "./LoginForms";

export const metadata = { title: "Sign in — Acme Projects" };

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | undefined>>;
}) {
  const { customer, email, next } = await searchParams;
  return (
    <div className="stack">
      <h1>Sign in</h1>
      <p className="muted">
        A demo sign-in: the cookie it sets is signed by the server. With Clerk configured, Clerk signs you in instead.
      </p>
      <LoginForms customer={customer ?? ""} email={email ?? ""} next={next ?? "/app"} />
    </div>
  );
}
