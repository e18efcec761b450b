import type { ReactNode } from 'react';
import { NavLink } from 'react-router-dom';

export function Layout({ children, onSignOut }: { children: ReactNode; onSignOut: () => void }) {
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand">
          <span className="logo">◆</span> ExeML
        </div>
        <nav>
          <NavLink to="/projects">Projects</NavLink>
          <NavLink to="/models">AI Applications</NavLink>
          <NavLink to="/services">Real-Time Services</NavLink>
          <NavLink to="/keys">API Keys</NavLink>
          <a href="/docs" target="_blank" rel="noreferrer">
            API reference ↗
          </a>
        </nav>
        <button className="link signout" onClick={onSignOut}>
          Sign out
        </button>
      </aside>
      <main className="content">{children}</main>
    </div>
  );
}
