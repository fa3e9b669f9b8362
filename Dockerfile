FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY studies ./studies
COPY evidence ./evidence
COPY portal ./portal
COPY api ./api
COPY interchange ./interchange
COPY locale ./locale
COPY manage.py gunicorn.conf.py ./
RUN pip install --no-cache-dir . && \
    SECRET_KEY=build-only DEBUG=0 python manage.py collectstatic --noinput
RUN useradd --system --no-create-home egm
USER egm
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
