"use client";

import Link from "next/link";
import { useActionState } from "react";

import { createProject, type ProjectState } from "./actions";

export function NewProjectForm() {
  const [state, action, pending] = useActionState<ProjectState, FormData>(createProject, null);
  return (
    <form action={action} className="tg-card" aria-labelledby="new-project">
      <h2 id="new-project">New project</h2>
      <label htmlFor="project-name">Name</label>
      <input id="project-name" name="name" required placeholder="My project" />
      <p>
        <button type="submit" className="tg-button tg-button--primary" disabled={pending} aria-busy={pending}>
          New project
        </button>
      </p>
      <div aria-live="polite">
        {state?.ok === true ? (
          <p role="status">
            Created “{state.name}”: you now have {state.projects}.
          </p>
        ) : null}
        {state?.ok === false ? (
          <div className="tg-banner tg-banner--warn" role="alert">
            <p>
              {state.message} <code>({state.reason})</code>
            </p>
            {state.upgrade ? (
              <p>
                <Link href={`/billing?upgrade=${state.upgrade.plan}&feature=projects`}>
                  Upgrade to {state.upgrade.name} for more projects
                </Link>
              </p>
            ) : null}
          </div>
        ) : null}
      </div>
    </form>
  );
}
