// collabd under PM2: `pm2 start deploy/ecosystem.config.cjs` (from the repository root, after
// `npm ci`), then `pm2 save` and `pm2 startup` to keep it across reboots.
//
// Fork mode, one process per port, is the default: nginx (deploy/nginx.conf) spreads clients
// over the ports. One instance needs nothing else; two or more need REDIS_URL and PostgreSQL
// (DATABASE_URL=postgres://...), set in .env or in `env` below.
//
// Cluster mode (`exec_mode: 'cluster'`, `instances: 'max'`) also works, since every worker is an
// instance sharing one port, but only with REDIS_URL: without it, two clients of one document
// that land on different workers never see each other's edits. Fork mode is simpler to reason
// about and restarts one port at a time.
//
// `pm2 reload collabd` restarts the processes one by one: each stopping one writes its pending
// updates and closes its clients with 1012, and they reconnect through nginx to the others.
const instances = (process.env.COLLABD_PORTS ?? '3001').split(',').map((p) => p.trim()).filter(Boolean)

module.exports = {
  apps: instances.map((port) => ({
    name: instances.length === 1 ? 'collabd' : `collabd-${port}`,
    script: 'dist/cli.js',
    args: 'start',
    cwd: __dirname + '/..',
    exec_mode: 'fork',
    instances: 1,
    // collabd handles SIGINT/SIGTERM itself: give it longer than SHUTDOWN_TIMEOUT_MS (10 s)
    // to write pending updates before PM2 sends SIGKILL.
    kill_timeout: 15000,
    // Ready when it listens: PM2 waits for the process to be online before stopping the next
    // one in a reload.
    min_uptime: 2000,
    max_restarts: 20,
    restart_delay: 1000,
    // Logs are JSON lines on stdout; rotate them with pm2-logrotate (docs/deployment.md).
    merge_logs: true,
    time: false,
    env: {
      NODE_ENV: 'production',
      PORT: port,
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
    },
  })),
}
