; Inno Setup 6 script for opsconsole on Windows (x64).
;
; Normally run by packaging\windows\build.ps1, which builds the PyInstaller
; bundle first and passes the values below from pyproject.toml:
;
;   ISCC.exe /DAppName=opsconsole /DAppVersion=0.1.0 /DDisplayName=opsconsole ^
;     /DPublisher="..." /DSourceDir=dist\opsconsole /DIconFile=build\packaging\icons\opsconsole.ico ^
;     /DOutputDir=dist packaging\windows\opsconsole.iss
;
; Installs the bundle into Program Files (or the user's programs folder when
; not elevated), Start menu entries for the console and the wall, optional
; desktop icon, optional autostart of the wall at logon (kiosk), optional PATH
; entry for the command line (opsconsole.exe; the shortcuts use opsconsolew.exe,
; which opens no console window).

#ifndef AppName
  #error Pass /DAppName=... (packaging\windows\build.ps1 does)
#endif
#ifndef AppVersion
  #error Pass /DAppVersion=...
#endif
#ifndef DisplayName
  #define DisplayName AppName
#endif
#ifndef Publisher
  #define Publisher AppName + " maintainers"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\" + AppName
#endif
#ifndef IconFile
  #define IconFile "..\..\build\packaging\icons\" + AppName + ".ico"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#define GuiExe AppName + "w.exe"
#define CliExe AppName + ".exe"

[Setup]
; AppId identifies the product across versions (upgrades, uninstall): never change it.
AppId={{86F7FACA-CF99-4A74-9CBA-7E336F7ED188}
AppName={#DisplayName}
AppVersion={#AppVersion}
AppVerName={#DisplayName} {#AppVersion}
AppPublisher={#Publisher}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#DisplayName}
DisableProgramGroupPage=yes
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename={#AppName}-{#AppVersion}-windows-x64-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#GuiExe}
UninstallDisplayName={#DisplayName} {#AppVersion}
VersionInfoVersion={#AppVersion}
VersionInfoProductName={#DisplayName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesEnvironment=yes
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "wallautostart"; Description: "Start the read-only wall display when this user logs on (kiosk)"; GroupDescription: "Wall display:"; Flags: unchecked
Name: "addtopath"; Description: "Add {#AppName} to PATH (command line: {#AppName} check-config, poll, ...)"; GroupDescription: "Command line:"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; the example site file, where people look for it
Source: "{#SourceDir}\_internal\resources\examples\site.toml"; DestDir: "{app}\examples"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#DisplayName}"; Filename: "{app}\{#GuiExe}"; WorkingDir: "{userdocs}"
Name: "{autoprograms}\{#DisplayName} wall"; Filename: "{app}\{#GuiExe}"; Parameters: "--wall"; WorkingDir: "{userdocs}"
Name: "{autodesktop}\{#DisplayName}"; Filename: "{app}\{#GuiExe}"; WorkingDir: "{userdocs}"; Tasks: desktopicon
; edit the shortcut's target to add --config C:\path\to\site.toml (else: the last opened site)
Name: "{userstartup}\{#DisplayName} wall"; Filename: "{app}\{#GuiExe}"; Parameters: "--wall"; Tasks: wallautostart

[Registry]
; `opsconsole` from the Run dialog and Start-Process, also without PATH
Root: HKA; Subkey: "Software\Microsoft\Windows\CurrentVersion\App Paths\{#CliExe}"; ValueType: string; ValueName: ""; ValueData: "{app}\{#CliExe}"; Flags: uninsdeletekey
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: IsAdminInstallMode and NeedsAddPath(ExpandConstant('{app}'))
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: (not IsAdminInstallMode) and NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\{#GuiExe}"; Parameters: "--demo"; Description: "Open {#DisplayName} on the built-in simulated site"; Flags: nowait postinstall skipifsilent unchecked

[Code]
function EnvRoot(): Integer;
begin
  if IsAdminInstallMode then Result := HKEY_LOCAL_MACHINE else Result := HKEY_CURRENT_USER;
end;

function EnvKey(): String;
begin
  if IsAdminInstallMode then
    Result := 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
  else
    Result := 'Environment';
end;

function NeedsAddPath(Dir: String): Boolean;
var
  Path: String;
begin
  if not RegQueryStringValue(EnvRoot(), EnvKey(), 'Path', Path) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;

procedure RemovePath(Dir: String);
var
  Path: String;
  P: Integer;
begin
  if not RegQueryStringValue(EnvRoot(), EnvKey(), 'Path', Path) then exit;
  P := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';');
  if P = 0 then exit;
  { P indexes ';' + Path: the entry starts at P in Path, with its ';' before it (if any) }
  if P > 1 then
    Delete(Path, P - 1, Length(Dir) + 1)
  else
    Delete(Path, 1, Length(Dir) + 1);
  RegWriteExpandStringValue(EnvRoot(), EnvKey(), 'Path', Path);
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemovePath(ExpandConstant('{app}'));
end;
