# syntax=docker/dockerfile:1

# inferq application image. The default command starts the API; docker-compose.yml runs the
# migrations (`npm run migrate`) and the worker from this same image with another command.
FROM node:20-bookworm-slim

WORKDIR /app

# The repository goes in before the install because the install needs more than the root manifests:
# every workspace's package.json (apps/*, packages/*), and prisma/ + prisma.config.ts for the
# postinstall `prisma generate` (its npm script defaults PRISMA_SCHEMA_ENGINE_BINARY to /bin/false).
# .dockerignore keeps the host's node_modules and generated Prisma client out of the context.
COPY . .

# Dev dependencies are needed at runtime: tsx runs the TypeScript sources (there is no build step)
# and prisma generates the client. The cache mount keeps npm's download cache out of the image.
# Sources stay root-owned and read-only for the runtime user; only .inferq/ is writable.
# `npm install` (locked versions) rather than `npm ci`: npm 11 leaves other platforms' optional
# packages out of a lockfile written on Linux, and `npm ci` then refuses it (npm/cli#8320).
RUN --mount=type=cache,target=/root/.npm \
    npm install --no-audit --no-fund \
 && mkdir -p .inferq \
 && chown node:node .inferq

ENV NODE_ENV=production \
    PORT=8080

# Unprivileged user shipped with the node image (uid 1000).
USER node

EXPOSE 8080

# node directly (not `npm start`) so SIGTERM reaches the process for a graceful shutdown.
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
