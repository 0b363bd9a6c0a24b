#!/usr/bin/python3
"""Run nova's own z/VM compute driver against a zguest-hostd endpoint.

nova.virt.zvm.driver.ZVMDriver (Debian 12 python3-nova) and the connector
client zvmconnector (python3-zvmcloudconnector) run unmodified. Only what
a lone compute host lacks is stood in for:

  * glance: image download (nova.image.glance.API.download; nova's own
    nova.virt.images.fetch still runs), upload and delete for snapshot
    (GlanceImageServiceV2.update/.delete);
  * neutron: the security groups the config drive's metadata asks for;
  * the virt API: wait_for_instance_event does not wait (no neutron).

Everything else is nova: its configuration, its objects on a private
sqlite database, its config drive (nova.virt.configdrive, genisoimage), its
error handling.

Usage: novadriver.py CONFIG.json

CONFIG: {"url": the daemon's URL, "workdir": a scratch directory,
"my_ip": the compute host's address (where the daemon scp's from),
"images": {glance id: {"path": file, "os_distro": ...}},
"steps": [step names, run in this order]}.

Output: one JSON object per line on stdout for each step:
{"step": name, "seconds": its duration, "ok": true|false, "detail": text,
"error": text}.
nova's own log goes to stderr. Exit status 0 when every step ran (even
if some failed), 2 on bad usage.
"""

import contextlib
import json
import os
import re
import shutil
import sys
import time
import traceback
import uuid


def emit(step, ok, seconds, detail="", error=""):
    sys.stdout.write(json.dumps({"step": step, "seconds": round(seconds, 3), "ok": ok,
                                 "detail": detail, "error": error}) + "\n")
    sys.stdout.flush()


class StepFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise StepFailed(msg)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: novadriver.py CONFIG.json\n")
        return 2
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    h = Harness(cfg)
    for step in cfg["steps"]:
        fn = getattr(h, "step_" + step, None)
        if fn is None:
            emit(step, False, 0, error="the harness has no step %r" % step)
            continue
        start = time.monotonic()
        try:
            detail = fn()
            emit(step, True, time.monotonic() - start, detail=str(detail or ""))
        except Exception as e:  # a step's failure is its own line
            err = "%s: %s" % (type(e).__name__, e)
            sys.stderr.write("step %s failed:\n%s\n" % (step, traceback.format_exc()))
            emit(step, False, time.monotonic() - start, error=err)
    return 0


class Harness(object):
    def __init__(self, cfg):
        self.cfg = cfg
        self.work = cfg["workdir"]
        self.images = cfg["images"]
        self.uploads = {}
        self.deleted = []
        self.instances = {}
        self.driver = None
        self._configure()

    # -- setting up nova as nova-compute would -----------------------------

    def _configure(self):
        from oslo_concurrency import lockutils
        from oslo_log import log as logging

        import nova.conf
        from nova import objects

        self.CONF = CONF = nova.conf.CONF
        logging.register_options(CONF)
        CONF([], project="nova", default_config_files=[])
        CONF.set_override("use_stderr", True)
        logging.setup(CONF, "nova")
        w = self.work
        CONF.set_override("cloud_connector_url", self.cfg["url"], group="zvm")
        CONF.set_override("image_tmp_path", os.path.join(w, "image_tmp"), group="zvm")
        CONF.set_override("reachable_timeout", 5, group="zvm")
        CONF.set_override("instances_path", os.path.join(w, "instances"))
        CONF.set_override("instance_name_template", "abc%05x")
        CONF.set_override("force_config_drive", True)
        CONF.set_override("config_drive_format", "iso9660")
        CONF.set_override("mkisofs_cmd", "genisoimage")
        CONF.set_override("my_ip", self.cfg["my_ip"])
        CONF.set_override("host", "conformance-compute")
        CONF.set_override("connection", "sqlite:///" + os.path.join(w, "nova.sqlite"), group="database")
        os.makedirs(os.path.join(w, "image_tmp"), exist_ok=True)
        os.makedirs(os.path.join(w, "locks"), exist_ok=True)
        lockutils.set_defaults(os.path.join(w, "locks"))
        objects.register_all()

        from nova.db.main import api as db_api
        from nova.db.main import models
        models.BASE.metadata.create_all(db_api.get_engine())

        from nova import context as nova_context
        self.ctx = nova_context.RequestContext("conformance-user", "conformance-project", is_admin=True)
        self._stand_ins()

    def _stand_ins(self):
        """What a lone compute host lacks: glance, neutron, virt events."""
        from nova.image import glance
        from nova.network import security_group_api

        images = self.images
        harness = self

        def download(self_, context, image_id, data=None, dest_path=None, trusted_certs=None):
            src = images[image_id]["path"]
            shutil.copyfile(src, dest_path)

        def update(self_, context, image_id, image_meta, data=None, purge_props=True):
            # The driver hands over the exported file (opened in text mode);
            # glance would store its bytes.
            with open(data.name, "rb") as f:
                harness.uploads[image_id] = {"bytes": len(f.read()), "meta": image_meta}
            return dict(image_meta, id=image_id)

        def delete(self_, context, image_id):
            harness.deleted.append(image_id)
            return True

        glance.API.download = download
        glance.GlanceImageServiceV2.update = update
        glance.GlanceImageServiceV2.delete = delete
        security_group_api.get_instance_security_groups = lambda context, instance, detailed=False: []

    def _virtapi(self):
        from nova.virt import virtapi

        class LoneVirtAPI(virtapi.VirtAPI):
            @contextlib.contextmanager
            def wait_for_instance_event(self, instance, event_names, deadline=300, error_callback=None):
                yield

            def exit_wait_early(self, events):
                pass

            def update_compute_provider_status(self, context, rp_uuid, enabled):
                pass

        return LoneVirtAPI()

    def _instance(self, key, root_gb=0, ephemeral_gb=0):
        from nova import objects
        flavor = objects.Flavor(name="conformance-" + key, flavorid=key, memory_mb=512, vcpus=1,
                                root_gb=root_gb, ephemeral_gb=ephemeral_gb, swap=0,
                                extra_specs={}, rxtx_factor=1.0, vcpu_weight=0,
                                is_public=True, disabled=False)
        inst = objects.Instance(context=self.ctx)
        inst.uuid = str(uuid.uuid4())
        inst.project_id = self.ctx.project_id
        inst.user_id = self.ctx.user_id
        inst.hostname = "conf-" + key
        inst.display_name = "conf-" + key
        inst.memory_mb, inst.vcpus = flavor.memory_mb, flavor.vcpus
        inst.root_gb, inst.ephemeral_gb = root_gb, ephemeral_gb
        inst.flavor = flavor
        inst.availability_zone = "nova"
        inst.config_drive = "True"
        inst.metadata = {}
        inst.system_metadata = {}
        inst.launch_index = 0
        inst.key_data = None
        inst.create()
        inst.keypairs = objects.KeyPairList(objects=[])
        inst.device_metadata = None
        return inst

    def _network_info(self, n):
        from nova.network import model
        subnet = model.Subnet(cidr="10.0.0.0/24", gateway=model.IP(address="10.0.0.1", type="gateway"),
                              ips=[model.FixedIP(address="10.0.0.%d" % (10 + n))],
                              dns=[model.IP(address="10.0.0.2", type="dns")], routes=[])
        net = model.Network(id="conformance-net", bridge="", label="private", subnets=[subnet], meta={"mtu": 1500})
        vif = model.VIF(id=str(uuid.uuid4()), address="02:00:00:c0:00:%02x" % n, network=net,
                        type="ovs", active=True, details={}, vnic_type="normal")
        return model.NetworkInfo([vif])

    def _image_meta(self, image_id):
        from nova import objects
        return objects.ImageMeta.from_dict({
            "id": image_id, "name": image_id, "disk_format": "raw", "container_format": "bare",
            "properties": {"os_distro": self.images[image_id]["os_distro"]}})

    def _spawn(self, key, image_id, root_gb=0, ephemeral_gb=0):
        inst = self._instance(key, root_gb=root_gb, ephemeral_gb=ephemeral_gb)
        bdi = {"root_device_name": "/dev/dasda", "ephemerals": [], "block_device_mapping": [], "swap": None}
        if ephemeral_gb:
            bdi["ephemerals"] = [{"device_name": "/dev/dasdb", "size": ephemeral_gb, "guest_format": None,
                                  "device_type": "disk", "disk_bus": None, "num": 0}]
        self.driver.spawn(self.ctx, inst, self._image_meta(image_id), injected_files=[],
                          admin_password=None, allocations={}, network_info=self._network_info(len(self.instances) + 1),
                          block_device_info=bdi)
        self.instances[key] = inst
        return inst

    def _inst(self, key):
        if key not in self.instances:
            raise StepFailed("no instance %r: its spawn step failed" % key)
        return self.instances[key]

    def _connector(self):
        from nova.virt.zvm import utils as zvmutils
        return zvmutils.ConnectorClient(self.cfg["url"])

    def _expect_power(self, key, want):
        from nova.compute import power_state
        st = self.driver.get_info(self._inst(key)).state
        check(st == want, "get_info: power state %s, want %s" % (
            power_state.STATE_MAP.get(st, st), power_state.STATE_MAP.get(want, want)))
        return "state %s" % power_state.STATE_MAP[st]

    def _destroy(self, key):
        from nova import exception
        inst = self._inst(key)
        self.driver.destroy(self.ctx, inst, network_info=None, block_device_info=None, destroy_disks=True)
        check(not self.driver.instance_exists(inst), "instance_exists is still true after destroy")
        try:
            st = self.driver.get_info(inst).state
        except exception.InstanceNotFound:
            return "%s gone; get_info raises InstanceNotFound" % inst.name
        raise StepFailed("get_info after destroy returned state %s instead of raising InstanceNotFound" % st)

    # -- the steps, in nova-compute's order ------------------------------

    def step_construct(self):
        from nova.virt.zvm import driver as zvm_driver
        self.driver = zvm_driver.ZVMDriver(self._virtapi())
        return "ZVMDriver(%s)" % self.cfg["url"]

    def step_init_host(self):
        self.driver.init_host(self.CONF.host)

    def step_get_available_nodes(self):
        nodes = self.driver.get_available_nodes()
        check(len(nodes) == 1 and nodes[0], "nodes %r: want one non-empty hypervisor_hostname" % (nodes,))
        self.node = nodes[0]
        return "node %s" % nodes[0]

    def step_get_available_resource(self):
        r = self.driver.get_available_resource(getattr(self, "node", None))
        for k in ("vcpus", "memory_mb", "local_gb", "hypervisor_version"):
            check(isinstance(r[k], int) and r[k] >= 1, "%s = %r: want a positive integer" % (k, r[k]))
        check(r["hypervisor_hostname"], "hypervisor_hostname is empty")
        check(0 <= r["vcpus_used"] <= r["vcpus"], "vcpus_used %r of %r" % (r["vcpus_used"], r["vcpus"]))
        check(0 <= r["memory_mb_used"] <= r["memory_mb"], "memory_mb_used %r of %r" % (r["memory_mb_used"], r["memory_mb"]))
        check(0 <= r["local_gb_used"] <= r["local_gb"], "local_gb_used %r of %r" % (r["local_gb_used"], r["local_gb"]))
        cpu = json.loads(r["cpu_info"])
        check(cpu.get("architecture") == "s390x", "cpu_info %r: want architecture s390x" % cpu)
        return "vcpus %d memory_mb %d local_gb %d hypervisor_version %d %s" % (
            r["vcpus"], r["memory_mb"], r["local_gb"], r["hypervisor_version"], r["hypervisor_type"])

    def step_update_provider_tree(self):
        from nova.compute import provider_tree
        node = getattr(self, "node", None) or "conformance-node"
        tree = provider_tree.ProviderTree()
        tree.new_root(node, str(uuid.uuid4()))
        self.driver.update_provider_tree(tree, node)
        inv = tree.data(node).inventory
        check(set(inv) == {"VCPU", "MEMORY_MB", "DISK_GB"}, "inventory classes %s" % sorted(inv))
        # placement's inventory schema (placement/schemas/inventory.py):
        # total, min_unit, max_unit, step_size >= 1; reserved >= 0;
        # allocation_ratio > 0; and the handler refuses reserved > total
        # and min_unit > max_unit.
        out = []
        for rc, v in sorted(inv.items()):
            for k in ("total", "min_unit", "max_unit", "step_size"):
                check(isinstance(v[k], int) and v[k] >= 1, "%s %s = %r: placement requires >= 1" % (rc, k, v[k]))
            check(v["reserved"] >= 0 and v["reserved"] <= v["total"], "%s reserved %r of total %r" % (rc, v["reserved"], v["total"]))
            check(v["min_unit"] <= v["max_unit"] <= v["total"], "%s min_unit %r max_unit %r total %r" % (rc, v["min_unit"], v["max_unit"], v["total"]))
            check(v["allocation_ratio"] > 0, "%s allocation_ratio %r" % (rc, v["allocation_ratio"]))
            out.append("%s total %d" % (rc, v["total"]))
        return ", ".join(out)

    def step_get_host_uptime(self):
        up = self.driver.get_host_uptime()
        check(re.match(r"^IPL at \d\d/\d\d/\d\d \d\d:\d\d:\d\d \S+$", up or ""), "ipl_time %r: want \"IPL at mm/dd/yy hh:mm:ss TZ\"" % (up,))
        return up

    def step_list_instances(self):
        names = self.driver.list_instances()
        check(isinstance(names, list), "list_instances returned %r" % (names,))
        return "%d instances" % len(names)

    def step_spawn(self):
        image_id = self.cfg["main_image"]
        from nova import exception
        try:
            self._connector().call("image_query", imagename=image_id)
            raise StepFailed("image %s is already imported; the step needs one that is not" % image_id)
        except exception.ZVMConnectorError as e:
            check(e.overallRC == 404, "image_query of an image not imported: overallRC %s, want 404" % e.overallRC)
        inst = self._spawn("main", image_id)
        drive = os.path.join(self.CONF.instances_path, inst.uuid, "cfgdrive.iso")
        check(os.path.exists(drive), "nova built no config drive at %s" % drive)
        with open(drive, "rb") as f:
            f.seek(32768 + 40)
            label = f.read(32).decode("ascii", "replace").strip()
        check(label == "config-2", "config drive volume label %r" % label)
        got = self._connector().call("image_query", imagename=image_id)
        check(got and got[0]["imagename"] == image_id, "image_query after spawn: %r" % (got,))
        return "%s spawned from %s (imported by the driver, root disk %s units, config drive %d bytes)" % (
            inst.name, image_id, got[0]["disk_size_units"], os.path.getsize(drive))

    def step_instance_exists(self):
        check(self.driver.instance_exists(self._inst("main")), "instance_exists is false after spawn")

    def step_get_info(self):
        from nova.compute import power_state
        return self._expect_power("main", power_state.RUNNING)

    def step_get_console_output(self):
        out = self.driver.get_console_output(self.ctx, self._inst("main"))
        check(isinstance(out, str), "console output %r is not text" % type(out))
        return "%d characters" % len(out)

    def step_power_off(self):
        from nova.compute import power_state
        self.driver.power_off(self._inst("main"))
        return self._expect_power("main", power_state.SHUTDOWN)

    def step_power_on(self):
        from nova.compute import power_state
        self.driver.power_on(self.ctx, self._inst("main"), network_info=None)
        return self._expect_power("main", power_state.RUNNING)

    def step_reboot_soft(self):
        from nova.compute import power_state
        self.driver.reboot(self.ctx, self._inst("main"), None, "SOFT")
        return self._expect_power("main", power_state.RUNNING)

    def step_reboot_hard(self):
        from nova.compute import power_state
        self.driver.reboot(self.ctx, self._inst("main"), None, "HARD")
        return self._expect_power("main", power_state.RUNNING)

    def step_pause(self):
        self.driver.pause(self._inst("main"))

    def step_unpause(self):
        from nova.compute import power_state
        self.driver.unpause(self._inst("main"))
        return self._expect_power("main", power_state.RUNNING)

    def step_snapshot(self):
        from nova import exception
        snap = str(uuid.uuid4())
        states = []

        def update_task_state(task_state, expected_state=None):
            states.append(task_state)

        self.driver.snapshot(self.ctx, self._inst("main"), snap, update_task_state)
        check(snap in self.uploads, "nothing was uploaded to glance for %s" % snap)
        up = self.uploads[snap]
        check(up["bytes"] > 0, "the uploaded snapshot is empty")
        check(up["meta"]["properties"]["os_distro"], "the export reported no os_version")
        check(snap not in self.deleted, "the driver deleted the glance image (a step failed inside snapshot)")
        try:
            self._connector().call("image_query", imagename=snap)
            raise StepFailed("the captured image %s is still in the daemon's repository after snapshot" % snap)
        except exception.ZVMConnectorError as e:
            check(e.overallRC == 404, "image_query after snapshot: overallRC %s, want 404" % e.overallRC)
        check(not os.path.exists(os.path.join(self.CONF.zvm.image_tmp_path, snap)), "the exported file was not cleaned up")
        return "%d bytes uploaded, os_distro %s, task states %s" % (up["bytes"], up["meta"]["properties"]["os_distro"], states)

    def step_destroy(self):
        return self._destroy("main")

    def step_spawn_ephemeral(self):
        from nova.compute import power_state
        inst = self._spawn("eph", self.cfg["main_image"], root_gb=1, ephemeral_gb=1)
        detail = self._expect_power("eph", power_state.RUNNING)
        return "%s with a 1 GiB root disk and a 1 GiB ephemeral disk: %s" % (inst.name, detail)

    def step_destroy_ephemeral(self):
        return self._destroy("eph")

    def step_spawn_gzip0(self):
        from nova.compute import power_state
        inst = self._spawn("gzip0", self.cfg["gzip0_image"])
        return "%s from an uncompressed (GZIP: 0) xCAT image: %s" % (inst.name, self._expect_power("gzip0", power_state.RUNNING))

    def step_destroy_gzip0(self):
        return self._destroy("gzip0")


if __name__ == "__main__":
    sys.exit(main())
