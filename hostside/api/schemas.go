package api

import "regexp"

// The request schemas of the original (zvmsdk/sdkwsgi/schemas/*.py built
// from validation/parameter_types.py), restated as data. Python's
// "{,n}" quantifier is written "{0,n}" for RE2.

func str(minLen, maxLen int, pattern string) *schema {
	s := &schema{types: []string{"string"}, minLen: minLen, maxLen: maxLen}
	if pattern != "" {
		s.pattern = regexp.MustCompile(pattern)
	}
	return s
}

func object(closed bool, required []string, props ...prop) *schema {
	return &schema{types: []string{"object"}, props: props, required: required, closed: closed}
}

func orNull(s *schema) *schema {
	return &schema{oneOf: []*schema{{types: []string{"null"}}, s}}
}

func p(name string, s *schema) prop { return prop{name, s} }

var (
	tUserID      = str(1, 8, `^[a-zA-Z0-9]{1,8}$`)
	tVdev        = str(1, 4, `^[0-9a-fA-F]{0,4}$`)
	tName        = str(1, 255, "") // format "name" has no checker registered
	tPositiveInt = &schema{types: []string{"integer", "string"}, pattern: regexp.MustCompile(`^[0-9]*$`), min: int64p(1)}
	tNonNegInt   = &schema{types: []string{"integer", "string"}, pattern: regexp.MustCompile(`^[0-9]*$`), min: int64p(0)}
	tBoolean     = &schema{types: []string{"boolean", "string"}, enum: []any{
		true, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
		false, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"}}
	tFileType = &schema{types: []string{"string"}, enum: []any{"ext2", "ext3", "ext4", "xfs", "swap", "none"}}
	tDiskPool = str(0, 0, `^\w+:\w+$`)
	tMAC      = str(0, 0, `^([0-9a-fA-F]{2})(:[0-9a-fA-F]{2}){5}$`)
	tIPv4     = &schema{types: []string{"string"}, format: "ipv4"}
	tRemote   = str(0, 0, `^[a-zA-Z0-9\-]+\@([0-9]{1,3}(\.[0-9]{1,3}){3}$|[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+){1,}$)`)
	tURL      = str(0, 0, `^https?:/{2}|^file:/{3}\w.+$`)
	tHostname = orNull(str(1, 255, `^[a-zA-Z0-9-._]*$`))
	tOSVer    = &schema{oneOf: []*schema{
		str(0, 0, `^((r|R)(h|H)(e|E)(l|L))(6|7|8|9|10){1}([.][0-9]{1,2})?$`),
		str(0, 0, `^((r|R)(e|E)(d|D)(h|H)(a|A)(t|T))(6|7){1}([.][0-9]{1,2})?$`),
		str(0, 0, `^((s|S)(l|L)(e|E)(s|S))(11|12|15){1}(([.]|((s|S)(p|P)))[0-9])?$`),
		str(0, 0, `^((s|S)(u|U)(s|S)(e|E))(11|12|15){1}(([.]|((s|S)(p|P)))[0-9])?$`),
		str(0, 0, `^((u|U)(b|B)(u|U)(n|N)(t|T)(u|U))(16|20|22|24|25){1}([.][0-9]{2})?([.][0-9])?$`),
		str(0, 0, `^((r|R)(h|H)(c|C)(o|O)(s|S))(4){1}([.][0-9]{1,2})?([.][0-9]{1,2})?$`),
	}}

	tDiskList = &schema{types: []string{"array"}, items: object(true, []string{"size"},
		p("size", str(0, 0, "")),
		p("format", tFileType),
		p("is_boot_disk", tBoolean),
		p("vdev", tVdev),
		p("disk_pool", tDiskPool),
	)}
	tDiskConf = &schema{types: []string{"array"}, items: object(true, []string{"format"},
		p("vdev", tVdev),
		p("format", tFileType),
		p("mntdir", str(0, 0, "")),
		p("size", str(0, 0, "")),
	)}
	tNetworkList = &schema{types: []string{"array"}, items: &schema{types: []string{"object"},
		props: []prop{
			p("method", orNull(&schema{types: []string{"string"}, enum: []any{"static", "dhcp"}})),
			p("ip_addr", tIPv4),
			p("dns_addr", &schema{types: []string{"array"}, items: tIPv4}),
			p("gateway_addr", tIPv4),
			p("mac_addr", tMAC),
			p("cidr", str(0, 0, "")), // format "cidr" has no checker registered
			p("nic_vdev", tVdev),
			p("nic_id", str(0, 0, "")),
			p("osa_device", tVdev),
			p("hostname", tHostname),
		},
		deps: map[string][]string{"ip_addr": {"cidr"}},
	}}
)

// Body schemas, by route.
var (
	schemaGuestCreate = object(true, []string{"guest"}, p("guest", object(true, []string{"userid", "vcpus", "memory"},
		p("userid", tUserID),
		p("vcpus", tPositiveInt),
		p("memory", tPositiveInt),
		p("user_profile", orNull(tUserID)),
		p("disk_list", tDiskList),
		p("max_cpu", &schema{types: []string{"integer"}, min: int64p(1), max: int64p(64)}),
		p("max_mem", str(0, 0, `^[1-9][0-9]{0,3}[m|M|g|G]$`)),
		p("ipl_from", str(0, 255, "")),
		p("ipl_param", str(0, 255, "")),
		p("ipl_loadparam", str(0, 255, "")),
		p("dedicate_vdevs", &schema{types: []string{"array"}, items: str(0, 0, `^[0-9a-fA-F]{0,4}$`), unique: true}),
		p("loaddev", object(true, nil,
			p("portname", str(1, 16, `^[0-9a-fA-F]{0,16}$`)),
			p("lun", str(1, 16, `^[0-9a-fA-F]{0,16}$`)),
			p("alterdev", str(0, 0, "")))),
		p("account", str(0, 128, "")),
		p("comments", &schema{types: []string{"array"}, items: str(0, 0, "")}),
		p("cschedule", str(1, 8, `^(\w{0,8})$`)),
		p("cshare", str(1, 64, `^(ABS|ABS(O|OL|OLU|OLUT|OLUTE))\s*(?:[1-9]\d?|100)(\.\d+)?%$|^(REL|REL(A|AT|ATI|ATIV|ATIVE))\s*(?:[1-9]\d{0,3}|10000)$`)),
		p("rdomain", str(1, 8, `^(\w{0,8})$`)),
		p("pcif", str(1, 9, `^(\w{0,9})$`)),
	)))

	schemaDeploy = object(true, []string{"image"},
		p("image", tName),
		p("transportfiles", &schema{types: []string{"string", "null"}}),
		p("remotehost", tRemote),
		p("vdev", orNull(tVdev)),
		p("hostname", tHostname),
		p("skipdiskcopy", tBoolean),
	)
	schemaCapture = object(true, []string{"image"},
		p("image", tName),
		p("capture_type", &schema{types: []string{"string"}, enum: []any{"rootonly", "alldisks"}}),
		p("compress_level", &schema{types: []string{"integer"}}),
	)
	schemaStart = object(true, nil,
		p("userid", tUserID),
		p("timeout", tNonNegInt),
	)
	schemaStop = object(true, nil,
		p("userid", tUserID),
		p("timeout", tNonNegInt),
		p("poll_interval", tNonNegInt),
	)
	schemaConfigMinidisks = object(true, []string{"disk_info"}, p("disk_info", object(true, nil,
		p("disk_list", tDiskConf))))
	schemaCreateInterface = object(true, []string{"interface"}, p("interface", object(true, []string{"os_version", "guest_networks"},
		p("os_version", tOSVer),
		p("guest_networks", tNetworkList),
		p("active", tBoolean))))
	schemaDeleteInterface = object(true, []string{"interface"}, p("interface", object(true, []string{"os_version", "vdev"},
		p("os_version", tOSVer),
		p("vdev", tVdev),
		p("active", tBoolean))))
	schemaCreateNIC = object(true, []string{"nic"}, p("nic", object(true, nil,
		p("vdev", orNull(tVdev)),
		p("nic_id", str(0, 0, "")),
		p("mac_addr", tMAC),
		p("active", tBoolean))))
	schemaCoupleNIC = object(true, []string{"info"}, p("info", object(true, []string{"couple"},
		p("couple", tBoolean),
		p("active", tBoolean),
		p("vswitch", str(1, 8, "")),
		p("vlan_id", &schema{types: []string{"integer"}, min: int64p(-1), max: int64p(4094)}))))
	schemaImageImport = object(true, []string{"image"}, p("image", object(true, []string{"image_name", "url", "image_meta"},
		p("image_name", tName),
		p("url", tURL),
		p("image_meta", object(true, []string{"os_version"},
			p("os_version", tOSVer),
			p("md5sum", str(0, 0, `^[0-9a-fA-F]{32}$`)),
			p("disk_type", &schema{types: []string{"string"}, enum: []any{"DASD", "dasd", "SCSI", "scsi"}}))),
		p("remote_host", tRemote))))
	schemaImageExport = object(true, []string{"location"}, p("location", object(true, []string{"dest_url"},
		p("dest_url", tURL),
		p("remote_host", tRemote))))
)
