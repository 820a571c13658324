<#
.SYNOPSIS
  Build opsconsole for Windows: the PyInstaller one-folder bundle, then the Inno Setup installer.

.DESCRIPTION
  Run from any directory, in PowerShell 5.1 or 7, with Python >= 3.11 (x64) on PATH
  (or -Python) and Inno Setup 6 installed (ISCC.exe on PATH or in its default folder;
  `choco install innosetup` or `winget install JRSoftware.InnoSetup`).

    powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
    powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1 -SkipInstaller

  Output: dist\opsconsole\ (opsconsole.exe: console, for the commands;
  opsconsolew.exe: no console window, for shortcuts; _internal\) and
  dist\opsconsole-<version>-windows-x64-setup.exe.
  Name, version, publisher and icon come from pyproject.toml (packaging\meta.py).
#>
[CmdletBinding()]
param(
    [string]$Python = "python",
    [string]$Venv = ".venv",
    [switch]$SkipInstaller
)
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
Set-Location $Root

# A plain function (no param block): "-m" and "/D..." reach the program untouched.
function Invoke-Native {
    $exe, $rest = $args
    & $exe @rest
    if ($LASTEXITCODE -ne 0) { throw "$exe $($rest -join ' ') failed with exit code $LASTEXITCODE" }
}

$started = Get-Date
$py = Join-Path $Root "$Venv\Scripts\python.exe"
if (-not (Test-Path $py)) {
    Write-Host "creating $Venv"
    Invoke-Native $Python -m venv $Venv
}
Invoke-Native $py -m pip install -q --upgrade pip
Invoke-Native $py -m pip install -q -e . -r packaging\requirements.txt

$meta = (& $py packaging\meta.py --json) -join "`n" | ConvertFrom-Json
if ($LASTEXITCODE -ne 0) { throw "packaging\meta.py failed" }
Write-Host "building $($meta.name) $($meta.version)"

$build = Join-Path $Root "build\packaging"
$icons = Join-Path $build "icons"
$dist = Join-Path $Root "dist"
$env:QT_QPA_PLATFORM = "offscreen"
Invoke-Native $py packaging\make_icons.py $icons
Remove-Item Env:QT_QPA_PLATFORM

$env:OPSCONSOLE_ICON_DIR = $icons
$t = Get-Date
Invoke-Native $py -m PyInstaller --noconfirm --clean --log-level WARN `
    --distpath $dist --workpath (Join-Path $build "pyinstaller") packaging\opsconsole.spec
$bundleSeconds = [math]::Round(((Get-Date) - $t).TotalSeconds, 1)

$bundle = Join-Path $dist $meta.name
$exe = Join-Path $bundle "$($meta.name).exe"
$version = (& $exe --version) -join ""
if ($version -ne "$($meta.name) $($meta.version)") {
    throw "the bundle says '$version', expected '$($meta.name) $($meta.version)'"
}
$size = (Get-ChildItem $bundle -Recurse -File | Measure-Object Length -Sum).Sum / 1MB
Write-Host ("bundle: {0}  {1:N0} MB  (build: {2} s)" -f $bundle, $size, $bundleSeconds)

if ($SkipInstaller) { return }

$iscc = Get-Command ISCC.exe -ErrorAction SilentlyContinue
if ($iscc) { $iscc = $iscc.Source } else {
    $iscc = @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
              "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe") |
        Where-Object { Test-Path $_ } | Select-Object -First 1
}
if (-not $iscc) { throw "Inno Setup 6 (ISCC.exe) not found: choco install innosetup" }

Invoke-Native $iscc /Qp `
    "/DAppName=$($meta.name)" "/DAppVersion=$($meta.version)" `
    "/DDisplayName=$($meta.display_name)" "/DPublisher=$($meta.maintainer)" `
    "/DSourceDir=$bundle" "/DIconFile=$(Join-Path $icons "$($meta.name).ico")" `
    "/DOutputDir=$dist" packaging\windows\opsconsole.iss
$setup = Join-Path $dist "$($meta.name)-$($meta.version)-windows-x64-setup.exe"
Write-Host ("installer: {0}  {1:N0} MB" -f $setup, ((Get-Item $setup).Length / 1MB))
Write-Host ("total: {0:N0} s" -f ((Get-Date) - $started).TotalSeconds)
