# The executor: Node + Playwright + Chromium. Cloudflare Containers runs it in production (see wrangler.toml).
FROM mcr.microsoft.com/playwright:v1.64.1-noble
WORKDIR /app
ENV NODE_ENV=production PORT=8080
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts
COPY schema ./schema
COPY executor ./executor
EXPOSE 8080
USER pwuser
CMD ["node", "executor/main.ts"]
