import { useEffect, useState, type ReactNode } from 'react';
import { api, whenSignedOut, type User } from './api';
import { ApprovalsPage } from './pages/approvals';
import { AuditPage } from './pages/audit';
import { ClusterPage } from './pages/cluster';
import { EnvironmentPage } from './pages/environment';
import { EnvironmentsPage } from './pages/environments';
import { JobLogPage } from './pages/job-log';
import { NewRepositoryPage } from './pages/new-repository';
import { QueuePage } from './pages/queue';
import { RepositoriesPage } from './pages/repositories';
import { RepositoryPage } from './pages/repository';
import { RepositorySettingsPage } from './pages/repository-settings';
import { RunPage } from './pages/run';
import { SignInPage } from './pages/sign-in';
import { TokensPage } from './pages/tokens';
import { UsersPage } from './pages/users';
import { onPromotionChange } from './promotions';
import { Link, match, navigate, usePath } from './router';
import { useMayApprove } from './use-permissions';
import { usePoll } from './use-poll';

export function App(): ReactNode {
  // undefined: not known yet; null: signed out.
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const path = usePath();

  useEffect(() => {
    whenSignedOut(() => setUser(null));
    api.me().then(setUser, () => setUser(null));
  }, []);

  if (user === undefined) return <main className="loading" aria-busy="true" />;
  if (user === null || path === '/sign-in') {
    return (
      <SignInPage
        onSignedIn={(signedIn) => {
          setUser(signedIn);
          if (path === '/sign-in') navigate('/', { replace: true });
        }}
      />
    );
  }
  const signOut = (): void => {
    void api.signOut().finally(() => setUser(null));
  };
  return (
    <>
      <TopBar path={path} user={user} onSignOut={signOut} />
      <main>{route(path, user)}</main>
    </>
  );
}

/**
 * The header. On a narrow screen its links and Sign out fold into a menu behind a "Menu" button,
 * which closes once a link is followed.
 */
function TopBar(props: { path: string; user: User; onSignOut: () => void }): ReactNode {
  const { path, user } = props;
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [path]);
  const mayApprove = useMayApprove(user);
  return (
    <header className="topbar">
      <Link to="/" className="brand">
        Kiln
      </Link>
      <button
        type="button"
        className="menu-toggle"
        aria-expanded={open}
        aria-controls="topbar-menu"
        onClick={() => setOpen((now) => !now)}
      >
        Menu
      </button>
      <div id="topbar-menu" className={open ? 'topbar-menu open' : 'topbar-menu'}>
        <nav>
          {NAVIGATION.filter(
            (item) =>
              (!('admin' in item) || user.isAdmin) && (item.to !== '/approvals' || mayApprove),
          ).map(({ to, label }) =>
            to === '/approvals' ? (
              <ApprovalsLink key={to} active={section(path) === to} />
            ) : (
              <Link key={to} to={to} className={section(path) === to ? 'active' : undefined}>
                {label}
              </Link>
            ),
          )}
        </nav>
        <span className="who">
          {user.username}
          {user.isAdmin ? ' (admin)' : ''}
        </span>
        <button type="button" className="link" onClick={props.onSignOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}

const NAVIGATION = [
  { to: '/', label: 'Repositories' },
  { to: '/queue', label: 'Queue' },
  { to: '/cluster', label: 'Cluster' },
  { to: '/tokens', label: 'Tokens' },
  { to: '/approvals', label: 'Approvals' },
  { to: '/users', label: 'Users', admin: true },
  { to: '/audit', label: 'Audit', admin: true },
] as const;

/** "Approvals", with how many promotions wait for the user's decision. */
function ApprovalsLink(props: { active: boolean }): ReactNode {
  const { data, refresh } = usePoll('approvals', api.approvals, 30_000);
  useEffect(() => onPromotionChange(refresh), [refresh]);
  const waiting = data?.length ?? 0;
  return (
    <Link
      to="/approvals"
      className={props.active ? 'active' : undefined}
      {...(waiting === 0 ? {} : { title: `${waiting} awaiting your decision` })}
    >
      Approvals
      {waiting === 0 ? null : (
        // Out of the link's name (it stays "Approvals"); the title says it in words.
        <span className="count" aria-hidden="true" data-approvals-waiting={waiting}>
          {waiting}
        </span>
      )}
    </Link>
  );
}

/** The header link a page belongs under: runs and jobs belong to the repositories. */
function section(path: string): string {
  return NAVIGATION.find(({ to }) => to !== '/' && match(to, path) !== undefined)?.to ?? '/';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The route's parameters when it matches and every id in it is a UUID: else no page is there. */
function matchIds(pattern: string, path: string): Record<string, string> | undefined {
  const params = match(pattern, path);
  if (params === undefined) return undefined;
  const ids = Object.entries(params).filter(([name]) => name === 'id' || name.endsWith('Id'));
  return ids.every(([, value]) => UUID.test(value)) ? params : undefined;
}

function route(path: string, user: User): ReactNode {
  let params: Record<string, string> | undefined;
  if (match('/', path) !== undefined) return <RepositoriesPage user={user} />;
  if (match('/repositories/new', path) !== undefined) return <NewRepositoryPage user={user} />;
  if (match('/users', path) !== undefined) return <UsersPage user={user} />;
  if (match('/queue', path) !== undefined) return <QueuePage />;
  if (match('/cluster', path) !== undefined) return <ClusterPage />;
  if (match('/tokens', path) !== undefined) return <TokensPage />;
  if (match('/approvals', path) !== undefined) return <ApprovalsPage user={user} />;
  if (match('/audit', path) !== undefined) return <AuditPage user={user} />;
  if ((params = matchIds('/repositories/:id', path)) !== undefined) {
    return <RepositoryPage key={params.id} id={params.id ?? ''} user={user} />;
  }
  if ((params = matchIds('/repositories/:id/settings', path)) !== undefined) {
    return <RepositorySettingsPage key={params.id} id={params.id ?? ''} user={user} />;
  }
  if ((params = matchIds('/repositories/:id/environments', path)) !== undefined) {
    return <EnvironmentsPage key={params.id} id={params.id ?? ''} user={user} />;
  }
  if ((params = matchIds('/repositories/:id/environments/:name', path)) !== undefined) {
    return (
      <EnvironmentPage
        key={`${params.id}/${params.name}`}
        id={params.id ?? ''}
        name={params.name ?? ''}
        user={user}
      />
    );
  }
  if ((params = matchIds('/runs/:runId', path)) !== undefined) {
    return <RunPage key={params.runId} runId={params.runId ?? ''} user={user} />;
  }
  if ((params = matchIds('/runs/:runId/jobs/:jobId', path)) !== undefined) {
    return <JobLogPage key={params.jobId} runId={params.runId ?? ''} jobId={params.jobId ?? ''} />;
  }
  return (
    <section>
      <h1>Not found</h1>
      <p>
        Nothing lives at this address. <Link to="/">Back to the repositories</Link>
      </p>
    </section>
  );
}
