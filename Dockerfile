FROM python:3.11-slim

WORKDIR /srv
COPY pyproject.toml README.md ARCHITECTURE.md ./
COPY examples/README.md ./examples/README.md
COPY app ./app
COPY graphs ./graphs
COPY model_client ./model_client
COPY redis_saver ./redis_saver
COPY studio ./studio
RUN pip install --no-cache-dir . && useradd --system --uid 10001 agent
USER agent

ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health')"
CMD ["python", "-m", "app"]
