# Ferry in a container: one process serving on 0.0.0.0:8080 with its data in /data (mount a volume).
# Build: docker build -t ferry .   Run: docker run -p 8080:8080 -v ferry-data:/data ferry
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
# the dashboard, built by Vite into dist/web/ during `npm ci` (prepare → build)
COPY web ./web
RUN npm ci --no-audit --no-fund && npm prune --omit=dev \
  # llama.cpp's CUDA and Vulkan builds (about 600 MB) are optional packages: this image runs on the CPU
  && rm -rf node_modules/@node-llama-cpp/*-cuda* node_modules/@node-llama-cpp/*-vulkan

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production FERRY_HOST=0.0.0.0 FERRY_PORT=8080 FERRY_DATA=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY models ./models
COPY package.json ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080
# SIGTERM drains in-flight requests (shutdownTimeoutMs, default 30 s) before exit.
STOPSIGNAL SIGTERM
CMD ["node", "bin/ferry.js", "serve"]
