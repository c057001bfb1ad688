FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
COPY requirements.txt ./
RUN pip install --upgrade "pip==26.3" && pip install -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only ALLOWED_HOSTS=build DJANGO_SETTINGS_MODULE=experquiz.settings.production \
    python manage.py collectstatic --noinput
ENV DJANGO_SETTINGS_MODULE=experquiz.settings.production
EXPOSE 8000
CMD ["gunicorn", "experquiz.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
