package main

import (
	"os"
	"path/filepath"
)

// The baseline is a restatement, in bash, of what a DPM guest runs today
// to bring its NICs up: nova-dpm's guest_image_tools
// (autoconfigure_networking.sh with its dpm_guest_image_tools_common
// library, the udev rule 80-setmac.rules that runs setmac.sh for every
// new qeth interface) and the s390-tools programs they call (znetconf,
// which runs lsznet.raw). It was written for this benchmark after reading
// nova-dpm at 0ca40a2^ and s390-tools at c6649588; nothing is copied.
// What it keeps is what those programs cost, step by step:
//
//   - autoconfigure: one bash that sources the library (dirname and
//     basename forks, `cat /proc/cmdline` in a subshell), walks the DPM
//     tokens with a regex, and per NIC forks subshells for the bus id and
//     the root-path helper, then runs znetconf through eval;
//   - znetconf, a fresh bash per NIC: basename, `cat /proc/mounts | awk` for
//     the sysfs mount point, `cat /proc/sysinfo | grep VM00`, getopt,
//     `echo | tr` to lower-case the id, `echo | cut` twice per -o option,
//     then `lsznet.raw -a | awk` to find the device's group, the group
//     write, `udevadm settle`, a `cat online` before each attribute, the
//     online write after `cat online`, a second `udevadm settle`, and a
//     subshell reading if_name;
//   - lsznet.raw, a fresh bash per NIC: find over /sys/devices/css0, and
//     for every CCW device found the subchannel's type, chpids and
//     pimpampom, the device's cutype and online, the group_device test,
//     the channel path's type, then `sort` and a bash loop pairing read,
//     write and data channels. Every NIC pays a scan of the whole channel
//     subsystem, so the total grows with the square of the NIC count;
//   - setmac.sh, a fresh bash per NIC started by udevd while it processes
//     the interface's "add" event (so the `udevadm settle` in znetconf
//     waits for it): the library again, four log lines through `logger`,
//     subshells extracting the device number, interface name and MAC, and
//     `ip link set <if> address <mac>` through eval.
//
// Known behaviour kept: setmac.sh matches the device number from the
// (lower-case) sysfs path against the command line literally, so a NIC
// whose token has upper-case hex digits (A-F, as the HMC writes them)
// never gets its MAC and nothing reports it. The benchmark counts the NICs
// each tool got right.
//
// Paths: the scripts take the emulated machine's root from $ZROOT and
// their own install directory from $ZTOOLS (the originals have ROOT_DIR in
// nova-dpm's library and fixed paths in s390-tools); `logger` writes to
// the socket in $ZSYSLOG because the test machine has no /dev/log.

// scripts maps the install path under $ZTOOLS to the script.
var scripts = map[string]string{
	"usr/bin/dpm_common":                  dpmCommon,
	"usr/bin/autoconfigure_networking.sh": autoconfigure,
	"usr/bin/setmac.sh":                   setmac,
	"sbin/znetconf":                       znetconf,
	"lib/s390-tools/lsznet.raw":           lsznet,
}

// installScripts writes the restated tools under dir.
func installScripts(dir string) error {
	for rel, body := range scripts {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// dpmCommon is the library both nova-dpm scripts source.
const dpmCommon = `# restated dpm_guest_image_tools_common (benchmark baseline)
say_to=${say_to:-syslog}
me=${me:-dpm-tools}
mac_re="[0-9A-Fa-f]{12}"
devno_re="[0-9A-Fa-f]{4}"
path_devno_re="qeth/0\.0\.($devno_re)/net"
path_ifname_re="/net/(.{1,15})"

say() {
  case $say_to in
    syslog) logger -u "$ZSYSLOG" "$me: $1" ;;
    stdout) echo "$me: $1" ;;
  esac
}

in_root() {
  # the library's root-directory helper, always called in a subshell
  if [[ $1 == /* ]]; then echo "$ZROOT$1"; else echo "$ZROOT/$1"; fi
}

devno_of_path() {
  if [[ $1 =~ $path_devno_re ]]; then echo "${BASH_REMATCH[1]}"; else say "no devno in '$1'"; exit 1; fi
}

ifname_of_path() {
  if [[ $1 =~ $path_ifname_re ]]; then echo "${BASH_REMATCH[1]}"; else say "no interface in '$1'"; exit 1; fi
}

mac_for() {
  local want="$1,[0-1],($mac_re);"
  if [[ $2 =~ $want ]]; then
    local m=${BASH_REMATCH[1]}
    echo "${m:0:2}:${m:2:2}:${m:4:2}:${m:6:2}:${m:8:2}:${m:10:2}"
  else
    say "no MAC for devno '$1' on the command line"; exit 1
  fi
}

local_admin() { [[ $1 =~ ^[0-9A-Fa-f][26AaEe] ]]; }

host_path() { echo "$1"; }

ip_path() {
  local c p
  for c in /usr/sbin/ip /sbin/ip; do
    p=$(host_path "$c")
    if [[ -x $p ]]; then echo "$p"; return 0; fi
  done
  say "no ip command"; exit 1
}

put_mac() {
  if ! local_admin "$2"; then say "MAC $2 is not locally administered"; exit 1; fi
  local ip=$(ip_path)
  local run="$ip link set $1 address $2 2>&1 > /dev/null"
  out=$(eval "$run")
  local rc=$?
  if [[ $rc != 0 ]]; then say "'$run' failed ($rc): $out"; exit 1; fi
  say "set MAC of '$1' to '$2'"
}

bus_id_of() { echo "0.0.$1"; }

grouped() { local d=$(in_root "/sys/bus/ccwgroup/devices/$1"); [ -d "$d" ]; }

add_nic() {
  local run=$(host_path "$ZTOOLS/sbin/znetconf")
  eval "$run -a $1 -o portno=$2 -o layer2=1"
}

need_ccwgroup() {
  if ! [ -d "$(in_root /sys/bus/ccwgroup)" ]; then say "loading ccwgroup"; modprobe ccwgroup; fi
}

read_cmdline() { echo $(cat "$(in_root /proc/cmdline)"); }
`

// autoconfigure is autoconfigure_networking.sh: every DPM token, one
// after the other, through znetconf. It ends by printing its peak RSS
// for the benchmark (its own VmHWM; the tools it forks are in the CPU).
const autoconfigure = `#!/bin/bash
set -e
ZROOT=${ZROOT:-}
. "$(dirname "$0")/dpm_common"
me=$(basename "$0")
say_to=stdout
token_re="($devno_re),([0-1])(,$mac_re)?;"
line=$(read_cmdline)
say "Start"
need_ccwgroup
rc=0
while [[ $line =~ $token_re ]]; do
  devno=${BASH_REMATCH[1]}
  port=${BASH_REMATCH[2]}
  line=${line#*"$devno"}
  bus=$(bus_id_of "$devno")
  say "Configuring dev_bus_id $bus with port $port."
  if grouped "$bus"; then say "$bus is configured already; skipping"; continue; fi
  add_nic "$bus" "$port" || rc=1
done
say "Finished with rc '$rc'"
while read -r k v _; do [[ $k == VmHWM: ]] && echo "peak_rss_kib=$v"; done < /proc/$$/status
exit $rc
`

// setmac is setmac.sh, run by udevd with the interface's device path.
const setmac = `#!/bin/bash
set -e
ZROOT=${ZROOT:-}
. "$(dirname "$0")/dpm_common"
me=$(basename "$0")
devpath="$1"
line=$(read_cmdline)
say "Start with device path '$devpath'"
devno=$(devno_of_path "$devpath")
ifname=$(ifname_of_path "$devpath")
mac=$(mac_for "$devno" "$line")
say "devno '$devno', interface '$ifname', MAC '$mac'"
put_mac "$ifname" "$mac"
say "Finished"
`

// znetconf is znetconf's start-up and its -a path with -o options.
const znetconf = `#!/bin/bash
me=$(basename $0)
scanner=$ZTOOLS/lib/s390-tools/lsznet.raw
sysdir=$ZROOT$(cat /proc/mounts | awk '$3=="sysfs"{print $2; exit}')
gbus=$sysdir/bus/ccwgroup
gdevs=$gbus/devices
ccwdevs=$sysdir/bus/ccw/devices
full_re='^[[:xdigit:]]\.[[:xdigit:]]\.[[:xdigit:]]{4}$'
part_re='^[[:xdigit:]]{4}$'
list_re='^[[:xdigit:]]\.[[:xdigit:]]\.[[:xdigit:]]{4}(,[[:xdigit:]]\.[[:xdigit:]]\.[[:xdigit:]]{4}){1,2}$'
err() { echo "$me: Error: $*" >&2; }
settle_cmd=
find_settle() {
  if [ -e /sbin/udevadm ]; then settle_cmd="/sbin/udevadm settle --timeout=10"
  elif [ -e /usr/bin/udevadm ]; then settle_cmd="/usr/bin/udevadm settle --timeout=10"
  else err "no udevadm"; fi
}
[ -e "$scanner" ] || { err "no $scanner"; exit 1; }
on_vm=0
if cat $ZROOT/proc/sysinfo | grep VM00 &> /dev/null; then on_vm=1; fi
names=(); values=(); n=0
keep_option() {
  [[ $1 =~ ^- ]] && { err "$1 is not attribute=value"; exit 1; }
  local k=$(echo $1 | cut -d= -f1)
  local v=$(echo $1 | cut -d= -f2)
  [ -z "$k" ] && { err "attribute missing"; return 1; }
  [ -z "$v" ] && { err "value missing for $k"; return 2; }
  n=$((n + 1)); names[$n]=$k; values[$n]=$v
}
add=0; dev=
args=$(getopt -l help,version,add-all,add:,configured,driver:,option:,remove:,remove-all,except:,unconfigured,non-interactive -o hvAa:cd:o:r:Re:un -- $@) || exit 30
eval set -- "$args"
while [ $# -gt 0 ]; do
  case $1 in
    -a|--add)
      shift
      dev=$(echo $1 | tr '[A-Z]' '[a-z]')
      if [[ $dev =~ $full_re || $dev =~ $list_re ]]; then add=1
      elif [[ $dev =~ $part_re ]]; then dev=0.0.$dev; add=1
      else err "bad device id $dev"; exit 11; fi ;;
    -o|--option) shift; keep_option "$1" || exit 12 ;;
    --) ;;
    *) err "option $1 not restated"; exit 1 ;;
  esac
  shift
done
[ -d "$gbus" ] || { err "no ccwgroup devices"; exit 31; }
[ $add -eq 1 ] || exit 0
echo "Scanning for network devices..."
found=$($scanner -a | awk "\$7 ~ /$dev/ {print \$5,\$7}")
read driver members <<< "$found"
[ -n "$members" ] || { err "No configuration found for device ID $dev"; exit 13; }
group=${members%%,*}
gfile=$gbus/drivers/$driver/group
if [ -e "$gfile" ]; then
  echo "$members" >> "$gfile" 2> /dev/null || { err "Could not group devices $members"; exit 14; }
else
  err "$gfile does not exist"; exit 14
fi
find_settle
[ -n "$settle_cmd" ] && $settle_cmd
failed=0
for ((i = 1; i <= n; i++)); do
  attr=$gdevs/$group/${names[i]}
  if [ "$(cat $gdevs/$group/online)" == "1" ]; then
    err "$group is online already; ${names[i]} not set"; failed=1; continue
  fi
  if [ -f "$attr" ]; then
    echo ${values[i]} >> "$attr" 2> /dev/null || { err "Failed to configure ${names[i]}=${values[i]}"; failed=1; }
  else
    err "$attr does not exist"; failed=1
  fi
done
onl=$gdevs/$group/online
if [ -f "$onl" ]; then
  if [ "$(cat $onl)" != "1" ]; then
    echo 1 >> "$onl" || { err "Failed to make $group online"; exit 16; }
  fi
else
  err "$onl does not exist"; exit 16
fi
[ $failed -eq 0 ] || exit 24
find_settle
[ -n "$settle_cmd" ] && $settle_cmd
ifname=$(
  if [ -e "$gdevs/$group/if_name" ]; then read x < "$gdevs/$group/if_name"; echo $x
  elif [ -d "$gdevs/$group/net/" ]; then ls "$gdevs/$group/net/"; fi)
tries=0
while [[ -z $ifname && $tries -lt 10 ]]; do
  sleep 1; tries=$((tries + 1))
  ifname=$(read x < "$gdevs/$group/if_name"; echo $x)
done
[ -n "$ifname" ] || { err "Failed to make $group online."; exit 28; }
echo "Successfully configured device $group ($ifname)"
`

// lsznet is lsznet.raw: every CCW device of the channel subsystem, its
// subchannel and channel path, the free network ones grouped into
// read/write/data triples.
const lsznet = `#!/bin/bash
sys=$ZROOT/sys
die() { echo "${0##*/}: ERROR: $*" >&2; exit 1; }
cu_name=("OSA (QDIO)" "HiperSockets" "CTC adapter" "escon channel" "ficon channel" "OSX" "OSM")
cu_netdev=(eth hsi ctc ctc ctc eth eth)
cu_driver=(qeth qeth ctcm ctcm ctcm qeth qeth)
cu_chans=(3 3 2 2 2 3 3)
cu_list=(1731/01 1731/05 3088/08 3088/1f 3088/1e 1731/02 1731/02)
chp_names=([0x11]=OSD [0x24]=IQD [0x30]=OSX [0x31]=OSM)
cu_at=
cu_index() {
  local i
  for ((i = 0; i < ${#cu_list[@]}; i++)); do
    [ "$1" == "${cu_list[i]}" ] && { cu_at=$i; return 0; }
  done
  return 1
}
scan() {
  cd $sys/devices
  local c
  for c in css[[:xdigit:]]*; do [ -d $c ] || exit; done
  find css[[:xdigit:]]* -name "[[:xdigit:]]*.[0-3].[[:xdigit:]][[:xdigit:]][[:xdigit:]][[:xdigit:]]" |
  while read p; do
    re="^css([[:xdigit:]]+)/([[:xdigit:]]+.[0-3].[[:xdigit:]]{4})/([[:xdigit:]]+.[0-3].[[:xdigit:]]{4})$"
    [[ $p =~ $re ]] || continue
    css=${BASH_REMATCH[1]}; sch=css$css/${BASH_REMATCH[2]}; busid=${BASH_REMATCH[3]}; dev=$sch/$busid
    if [ -f $sch/type ]; then read t < $sch/type; [ $t != 0 ] && continue; fi
    read cl < $sch/chpids
    read -a chps <<< "$cl"
    [ ${#chps[@]} -eq 8 ] || die "${#chps[@]} CHPIDs instead of 8"
    read pim pam pom rest < $sch/pimpampom
    paths=""
    for ((j = 0; j < 8; j++)); do
      if ((0x$pim & (0x80 >> j))); then paths=$paths${chps[j]}; else paths=${paths}ZZ; fi
    done
    read cu < $dev/cutype
    read on < $dev/online
    [ $on == 1 ] && continue
    [ -h $dev/group_device ] && continue
    paths=${paths//ZZ/}
    [ "$paths" == "" ] && continue
    chp=${paths:0:2}
    read ctype < css$css/chp$css.$chp/type
    [ -z "$all" ] && ! cu_index $cu && continue
    if cu_index $cu; then
      if [ "${cu_driver[cu_at]}" == ctcm ]; then cname=-; else
        cname=${chp_names[$((0x$ctype))]}; [ -z "$cname" ] && cname="?"; fi
      echo $paths $busid $cu $cname ${cu_driver[cu_at]} ${cu_netdev[cu_at]} ${cu_chans[cu_at]} ${cu_name[cu_at]}
    fi
  done
}
triples() {
  local rp=Z rs=Z rd=ZZZZ rc=ZZ rcu=ZZZZ/ZZ count=0 item=1
  local wp ws wd dp ds dd x
  while read chp busid cu cname drv ndev chans name; do
    IFS=. read p s d x <<< "$busid"
    if [ $rc != $chp -o $rp != $p -o $rs != $s -o $rcu != $cu ]; then
      rp=$p; rs=$s; rd=$d; rc=$chp; rcu=$cu; count=1; continue
    fi
    count=$((count + 1))
    if [ $count -eq 2 ]; then
      if [ $((0x$d)) -ne $((0x$rd + 1)) ]; then rp=$p; rs=$s; rd=$d; rc=$chp; rcu=$cu; count=1; continue; fi
      wp=$p; ws=$s; wd=$d
    elif [ $count -eq 3 ]; then dp=$p; ds=$s; dd=$d; fi
    [ $count -ne $chans ] && continue
    case $count in
      2) ids=$rp.$rs.$rd,$wp.$ws.$wd ;;
      3) ids=$rp.$rs.$rd,$wp.$ws.$wd,$dp.$ds.$dd ;;
      *) die "bad channel count" ;;
    esac
    echo $item $cu $chp $cname $drv $ndev $ids "$name"
    item=$((item + 1)); rp=Z; count=0
  done
}
[ $# == 1 -a "$1" == "-a" ] && all=1
scan | sort -s -k 1,1 -k 2,2 | triples
`
