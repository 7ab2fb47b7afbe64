# collabd container image. NOT BUILT IN CI: the machines this project is tested on have no
# Docker engine, so this file has never been built or run by us. It follows the same steps the
# tests do (npm ci, build, `collabd start`); report what breaks.
#
#   docker build -t collabd .
#   docker run -p 3001:3001 -e DATABASE_URL=postgres://... -e JWT_SECRET=<32+ characters> collabd
#
# NODE_ENV=production is set below, so collabd refuses to start without authentication:
# JWT_SECRET (or BETTER_AUTH_SECRET, see .env.example), or ALLOW_ANONYMOUS=true for a demo.

FROM node:20-bookworm AS build
WORKDIR /app
# better-sqlite3 builds from source with python3, make and g++ (all in this image).
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3001 LOG_FORMAT=json
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# SQLite (the default store) writes under /app/data; mount a volume there, or use PostgreSQL.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3001)+'/health').then(r=>process.exit(r.status===503?1:0),()=>process.exit(1))"
# SIGTERM from `docker stop` is a graceful shutdown; give it more than SHUTDOWN_TIMEOUT_MS
# (docker stop -t 15, or stop_grace_period in compose).
CMD ["node", "dist/cli.js", "start"]
