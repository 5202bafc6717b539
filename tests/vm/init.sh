#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/init.sh - /init of the colo-proxy test guest (busybox only).
#
# Built into the initramfs by tests/vm/build-guest.py.  Mounts the kernel
# file systems, loads the NIC drivers listed in /etc/modules (e1000,
# virtio_net and their dependencies, in dependency order), configures eth0
# from the kernel command line and starts the guest's services:
#
#   port 80  busybox httpd on /www: static pages /1 ... /32 whose content
#            depends only on the path, /cgi-bin/page?N (N lines, no Date
#            header), /cgi-bin/time (differs per guest: role, uptime) and
#            /cgi-bin/sched (/proc/schedstat: differs per VM of a real
#            COLO pair too), /cgi-bin/console?TOKEN (writes
#            "COLO-CONSOLE TOKEN" to the console)
#   port 7   line echo (busybox nc -ll -e /bin/cat)
#
# Kernel command line: colo.ip=A.B.C.D/NN  colo.role=NAME  colo.gw=A.B.C.D
#                      colo.neigh=A.B.C.D,MAC (a permanent ARP entry)
#                      colo.printk=N (console log level, default 0)
# The marker "COLO-GUEST-UP" on the console says the services listen.
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
ip=; role=guest; gw=; neigh=; printk=0
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        colo.printk=*) printk=${arg#colo.printk=} ;;
        colo.ip=*) ip=${arg#colo.ip=} ;;
        colo.role=*) role=${arg#colo.role=} ;;
        colo.gw=*) gw=${arg#colo.gw=} ;;
        colo.neigh=*) neigh=${arg#colo.neigh=} ;;
    esac
done
# console log level: 0 (nothing) unless colo.printk=N asks for messages
# below level N (4: warnings, oopses, panics)
echo "$printk" > /proc/sys/kernel/printk
echo "$role" > /etc/colo-role
hostname "$role"

for m in $(cat /etc/modules); do
    insmod /lib/modules/$m.ko 2>/dev/null
done

# no IPv6: the two guests' DAD and router solicitations carry random
# nonces, which would only add miscompares unrelated to the test
for f in /proc/sys/net/ipv6/conf/default/disable_ipv6 \
         /proc/sys/net/ipv6/conf/all/disable_ipv6; do
    [ -e "$f" ] && echo 1 > "$f"
done
ip link set lo up
if [ -n "$ip" ]; then
    n=0
    while ! ip link show eth0 >/dev/null 2>&1 && [ $n -lt 50 ]; do
        usleep 100000; n=$((n + 1))
    done
    ip link set eth0 up
    ip addr add "$ip" dev eth0
    [ -n "$gw" ] && ip route add default via "$gw"
    if [ -n "$neigh" ]; then
        arp -i eth0 -s "${neigh%%,*}" "${neigh#*,}"
    fi
fi

httpd -p 80 -h /www
(while true; do nc -ll -p 7 -e /bin/cat; sleep 1; done) &

mac=$(cat /sys/class/net/eth0/address 2>/dev/null)
drv=$(basename "$(readlink /sys/class/net/eth0/device/driver 2>/dev/null)" 2>/dev/null)
echo "COLO-GUEST-UP role=$role ip=$ip mac=$mac driver=$drv"

# init must never exit; answer on the console for debugging
while true; do
    sh </dev/console >/dev/console 2>&1 || sleep 1
done
