import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";

import "@/components/billing/billing.css";
import "./globals.css";

export const metadata: Metadata = { title: "Acme Projects — a tollgate example" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="top">
          <nav aria-label="Main">
            <Link href="/app">Projects</Link>
            <Link href="/app/analytics">Analytics</Link>
            <Link href="/billing">Billing</Link>
            <Link href="/support">Support</Link>
            <Link href="/login">Sign in</Link>
          </nav>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
