// collabd under PM2: from the repository root, after `npm ci` (PM2 itself: `npm install -g pm2`),
//
//   COLLABD_PORTS=3001,3002 pm2 start deploy/ecosystem.config.cjs
//   pm2 save && pm2 startup      # keep them across reboots
//
// Fork mode, one process per port: nginx (deploy/nginx.conf) spreads clients over the ports. The
// apps are named collabd-<port> (just `collabd` with one port) and all sit in the namespace
// `collabd`, so `pm2 reload collabd`, `pm2 logs collabd` and `pm2 stop collabd` address all of
// them. One instance needs nothing else; two or more need REDIS_URL and PostgreSQL
// (DATABASE_URL=postgres://...), set in .env or in `env` below: collabd refuses to start with
// REDIS_URL and a SQLite store, and a second process on one SQLite file refuses to start too.
//
// Cluster mode (`exec_mode: 'cluster'`, `instances: 'max'`) also works, since every worker is an
// instance sharing one port, but only with REDIS_URL: without it, two clients of one document
// that land on different workers never see each other's edits. Fork mode is simpler to reason
// about and restarts one port at a time.
//
// `pm2 reload collabd` restarts the processes one by one: PM2 starts the new process, waits for
// its 'ready' (collabd sends it once it listens: wait_ready), then stops the old one, which
// writes its pending updates and closes its clients with 1012; they reconnect through nginx.
const instances = (process.env.COLLABD_PORTS ?? '3001').split(',').map((p) => p.trim()).filter(Boolean)

module.exports = {
  apps: instances.map((port) => ({
    name: instances.length === 1 ? 'collabd' : `collabd-${port}`,
    namespace: 'collabd',
    script: 'dist/cli.js',
    args: 'start',
    cwd: __dirname + '/..',
    exec_mode: 'fork',
    instances: 1,
    // Online means listening: collabd calls process.send('ready') once its port is open.
    wait_ready: true,
    // How long PM2 waits for 'ready' (opening the store and migrations, plus the half-second
    // WARM_UP) before it takes the start as done anyway.
    listen_timeout: 15000,
    // collabd handles SIGINT/SIGTERM itself: give it longer than SHUTDOWN_TIMEOUT_MS (10 s)
    // to write pending updates before PM2 sends SIGKILL.
    kill_timeout: 15000,
    // A process that exits within this long of starting counts as a failed start (max_restarts).
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
