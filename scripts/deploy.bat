@echo off
rem DNA da Forca AI on one Windows host with Docker Compose (or docker-compose, or podman-compose).
rem   scripts\deploy.bat deploy              build and start
rem   scripts\deploy.bat status              containers and their health, then the servers' /health
rem   scripts\deploy.bat logs rag^|api^|worker^|redis [-f]
rem   scripts\deploy.bat stop ^| restart
rem   scripts\deploy.bat backup [FILE]       the database, materials and index in one archive (default backups\)
rem Set COMPOSE=podman-compose (or "docker compose", docker-compose) to pick the tool. Replicas: see README.
setlocal EnableExtensions EnableDelayedExpansion
cd /d "%~dp0.."

if "%~1"=="" goto usage

if defined COMPOSE goto have_compose
docker info >nul 2>&1
if not errorlevel 1 (
  docker compose version >nul 2>&1
  if not errorlevel 1 (set "COMPOSE=docker compose" & goto have_compose)
  where docker-compose >nul 2>&1
  if not errorlevel 1 (set "COMPOSE=docker-compose" & goto have_compose)
)
where podman-compose >nul 2>&1
if not errorlevel 1 (set "COMPOSE=podman-compose" & goto have_compose)
echo No compose tool found: install Docker Desktop (https://docs.docker.com/desktop/), docker-compose, 1>&2
echo or podman with podman-compose (pip install podman-compose). 1>&2
exit /b 1

:have_compose
if /i "%~1"=="deploy" goto deploy
if /i "%~1"=="status" goto status
if /i "%~1"=="logs" goto logs
if /i "%~1"=="stop" (%COMPOSE% stop & exit /b !errorlevel!)
if /i "%~1"=="restart" (%COMPOSE% restart & exit /b !errorlevel!)
if /i "%~1"=="backup" goto backup
goto usage

:deploy
if not exist .env (
  copy /y env.example .env >nul
  echo Wrote .env from env.example
)
for %%N in (JWT_SECRET_KEY RAG_SERVICE_TOKEN REDIS_PASSWORD) do (
  findstr /r /b /c:"%%N=." .env >nul 2>&1
  if errorlevel 1 (
    for /f "usebackq delims=" %%S in (`powershell -NoProfile -Command "$b = New-Object byte[] 36; (New-Object Security.Cryptography.RNGCryptoServiceProvider).GetBytes($b); [Convert]::ToBase64String($b).TrimEnd('=').Replace('+','-').Replace('/','_')"`) do (
      >>.env echo %%N=%%S
      echo Generated %%N in .env
    )
  )
)
%COMPOSE% up -d --build
if errorlevel 1 exit /b 1
goto status

:status
%COMPOSE% ps
set FAILED=0
call :health "API server" "http://127.0.0.1:8000/health" || set FAILED=1
call :health "RAG server" "http://127.0.0.1:8001/health" || set FAILED=1
exit /b %FAILED%

:health
powershell -NoProfile -Command "try { $r = Invoke-WebRequest -UseBasicParsing -TimeoutSec 5 '%~2'; if ($r.StatusCode -eq 200) { exit 0 } else { exit 1 } } catch { exit 1 }"
if errorlevel 1 (
  echo %~1: NOT answering ^(%~2^)
  exit /b 1
)
echo %~1: healthy ^(%~2^)
exit /b 0

:logs
set "SERVICE="
if /i "%~2"=="rag" set "SERVICE=rag-server"
if /i "%~2"=="api" set "SERVICE=api-server"
if /i "%~2"=="worker" set "SERVICE=worker"
if /i "%~2"=="redis" set "SERVICE=redis"
if not defined SERVICE (
  echo unknown service "%~2" ^(rag, api, worker, redis^) 1>&2
  exit /b 2
)
%COMPOSE% logs %~3 %SERVICE%
exit /b %errorlevel%

:backup
set "FILE=%~2"
if not defined FILE (
  for /f "usebackq delims=" %%T in (`powershell -NoProfile -Command "(Get-Date).ToUniversalTime().ToString('yyyyMMdd-HHmmss')"`) do set "FILE=backups\dnaforca-backup-%%T.tar.gz"
)
for %%F in ("%FILE%") do if not exist "%%~dpF" mkdir "%%~dpF"
%COMPOSE% exec -T api-server python -m servers.cli backup - > "%FILE%.partial"
if errorlevel 1 (
  del "%FILE%.partial"
  echo backup failed 1>&2
  exit /b 1
)
move /y "%FILE%.partial" "%FILE%" >nul
echo Backup written to %FILE%
exit /b 0

:usage
echo usage: scripts\deploy.bat deploy ^| status ^| logs rag^|api^|worker^|redis [-f] ^| stop ^| restart ^| backup [FILE]
exit /b 2
