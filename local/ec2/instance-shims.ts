/**
 * Commands an instance finds first on its PATH. `shutdown`, `poweroff` and `halt` write the
 * instance's shutdown request file, which the emulator watches: that is how a builder's user data
 * ends with the instance stopped. `systemctl` covers what user data does to install a service
 * (enable, disable, daemon-reload); units start when the instance boots.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function powerOffScript(marker: string): string {
  return `#!/bin/sh
# Kiln local EC2: the instance powers itself off; the emulator stops (or terminates) it.
name=$(basename "$0")
for arg in "$@"; do
  case "$arg" in
    -c) echo "$name: no scheduled shutdown to cancel" >&2; exit 0 ;;
    -r|--reboot) echo "$name: reboot is not emulated by the local EC2; stop and start the instance instead" >&2; exit 1 ;;
  esac
done
printf '%s %s\\n' "$name" "$*" >> ${shellQuote(marker)}
echo "$name: the system is going down for poweroff NOW"
exit 0
`;
}

const SYSTEMCTL_SCRIPT = `#!/bin/bash
# Kiln local EC2: the systemctl verbs user data uses to install a service.
root="\${KILN_INSTANCE_ROOT:?KILN_INSTANCE_ROOT is not set}"
wants="$root/etc/systemd/system/multi-user.target.wants"
verb=""
units=()
for arg in "$@"; do
  case "$arg" in
    -*) ;;
    *) if [ -z "$verb" ]; then verb="$arg"; else units+=("\${arg%.service}.service"); fi ;;
  esac
done
unit_file() {
  for dir in etc/systemd/system usr/lib/systemd/system lib/systemd/system; do
    if [ -f "$root/$dir/$1" ]; then echo "/$dir/$1"; return 0; fi
  done
  return 1
}
case "$verb" in
  daemon-reload|daemon-reexec) exit 0 ;;
  enable)
    mkdir -p "$wants"
    for unit in "\${units[@]}"; do
      file=$(unit_file "$unit") || { echo "Failed to enable unit: Unit file $unit does not exist." >&2; exit 1; }
      ln -sfn "$file" "$wants/$unit"
      echo "Created symlink /etc/systemd/system/multi-user.target.wants/$unit → $file."
    done ;;
  disable)
    for unit in "\${units[@]}"; do
      if [ -e "$wants/$unit" ] || [ -L "$wants/$unit" ]; then rm -f "$wants/$unit"; echo "Removed /etc/systemd/system/multi-user.target.wants/$unit."; fi
    done ;;
  is-enabled)
    status=0
    for unit in "\${units[@]}"; do
      if [ -L "$wants/$unit" ] || [ -e "$wants/$unit" ]; then echo enabled; else echo disabled; status=1; fi
    done
    exit $status ;;
  is-active) echo unknown; exit 3 ;;
  start|stop|restart|reload|try-restart|reload-or-restart)
    echo "systemctl $verb is not emulated by the local EC2: enabled units start when the instance boots" >&2 ;;
  *) echo "systemctl $verb is not emulated by the local EC2" >&2; exit 1 ;;
esac
`;

/** Writes the instance's shim commands into `shimDir`; the power-off ones append to `shutdownMarker`. */
export async function writeInstanceShims(shimDir: string, shutdownMarker: string): Promise<void> {
  await mkdir(shimDir, { recursive: true });
  const scripts: Array<[string, string]> = [
    ["shutdown", powerOffScript(shutdownMarker)],
    ["poweroff", powerOffScript(shutdownMarker)],
    ["halt", powerOffScript(shutdownMarker)],
    ["systemctl", SYSTEMCTL_SCRIPT],
  ];
  for (const [name, script] of scripts) {
    const file = join(shimDir, name);
    await writeFile(file, script);
    await chmod(file, 0o755);
  }
}
