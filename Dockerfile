# syntax=docker/dockerfile:1
# Multi-stage: build with dev dependencies, ship dist/ with production dependencies only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
# How the gateway is started, with its memory settings (the same for npm start and the benches).
COPY bin/gateway ./bin/gateway
# Lua scripts are read at start from src/store/lua.
COPY src/store/lua ./src/store/lua
# The pages' stylesheet, scripts and strings are read at start from src/web.
COPY src/web/assets ./src/web/assets
COPY src/web/i18n ./src/web/i18n
USER node
EXPOSE 2525 8080 10040
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.ABUSEGATE_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# In a container, Redis is a separate service: set REDIS_URL (the local child Redis is for npm start).
CMD ["sh", "bin/gateway"]
