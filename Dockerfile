FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY featurestore ./featurestore
COPY migrations ./migrations
RUN pip install --no-cache-dir -e '.[postgres]'
EXPOSE 6566
CMD ["featurestore", "--repo", "/repo", "serve", "--host", "0.0.0.0"]
