import { redirect } from "next/navigation";

import { featureLabel } from "@/components/billing/format";
import { getCustomerId } from "@/lib/identity";
import { entitlements } from "@/lib/snapshots";

import { NewProjectForm } from "./NewProjectForm";

export const metadata = { title: "Projects — Acme Projects" };

export default async function ProjectsPage() {
  const customer = await getCustomerId();
  if (customer === null) redirect("/login?next=/app");
  const current = await entitlements(customer, { fresh: true });
  const projects = current?.snapshot.features.projects;
  const limit = projects?.limit;
  return (
    <div className="stack">
      <h1>Projects</h1>
      <p>
        Signed in as <strong>{customer}</strong>
        {current ? ` on ${current.snapshot.plan.name}` : ""}.
      </p>
      <p id="project-count">
        {featureLabel("projects")}: {projects?.used ?? 0}
        {typeof limit === "number" ? ` of ${limit}` : limit === "unlimited" ? " (unlimited)" : ""}
      </p>
      <NewProjectForm />
    </div>
  );
}
