FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN LABS_ENV=development python manage.py collectstatic --noinput
RUN useradd --create-home labs && chown -R labs /app
USER labs
EXPOSE 8000
CMD ["gunicorn", "labs.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2"]
