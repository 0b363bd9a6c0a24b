package hmc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// CPC holds the CPC properties the DPM backend reads.
type CPC struct {
	URI               string `json:"object-uri"`
	ObjectID          string `json:"object-id"`
	Name              string `json:"name"`
	Status            string `json:"status"`
	DPMEnabled        bool   `json:"dpm-enabled"`
	SEVersion         string `json:"se-version"`
	MachineType       string `json:"machine-type"`
	ProcessorCountIFL int    `json:"processor-count-ifl"`
	StorageCustomer   int    `json:"storage-customer"` // MiB
}

// PartitionRef is one entry of List Partitions of a CPC.
type PartitionRef struct {
	URI    string `json:"object-uri"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Type   string `json:"type"`
}

// Partition holds the partition properties the DPM backend reads.
type Partition struct {
	URI                      string   `json:"object-uri"`
	Name                     string   `json:"name"`
	Description              string   `json:"description"`
	Status                   string   `json:"status"`
	IFLProcessors            int      `json:"ifl-processors"`
	InitialMemory            int      `json:"initial-memory"` // MiB
	MaximumMemory            int      `json:"maximum-memory"` // MiB
	BootDevice               string   `json:"boot-device"`
	BootOSSpecificParameters string   `json:"boot-os-specific-parameters"`
	NICURIs                  []string `json:"nic-uris"`
	HBAURIs                  []string `json:"hba-uris"`
}

// NIC holds a NIC's properties.
type NIC struct {
	URI              string `json:"element-uri"`
	Name             string `json:"name"`
	Description      string `json:"description"`
	DeviceNumber     string `json:"device-number"` // 4 hex digits, upper case from the HMC
	MACAddress       string `json:"mac-address"`   // "02:d2:4d:80:b9:88"
	VirtualSwitchURI string `json:"virtual-switch-uri"`
	Type             string `json:"type"`
}

// HBA holds an HBA's properties (z13-class DPM only).
type HBA struct {
	URI            string `json:"element-uri"`
	Name           string `json:"name"`
	WWPN           string `json:"wwpn"`
	DeviceNumber   string `json:"device-number"`
	AdapterPortURI string `json:"adapter-port-uri"`
}

// VirtualSwitch holds a virtual switch's properties.
type VirtualSwitch struct {
	URI               string `json:"object-uri"`
	Name              string `json:"name"`
	Type              string `json:"type"`
	Port              int    `json:"port"`
	BackingAdapterURI string `json:"backing-adapter-uri"`
}

// Adapter holds an adapter's properties.
type Adapter struct {
	URI  string `json:"object-uri"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// CPCURI, PartitionURI, ... build the URIs of objects by object id.
func CPCURI(id string) string           { return "/api/cpcs/" + url.PathEscape(id) }
func VirtualSwitchURI(id string) string { return "/api/virtual-switches/" + url.PathEscape(id) }
func AdapterURI(id string) string       { return "/api/adapters/" + url.PathEscape(id) }

// GetCPC reads a CPC by object id.
func (c *Client) GetCPC(ctx context.Context, id string) (*CPC, error) {
	var v CPC
	return &v, c.Get(ctx, CPCURI(id), &v)
}

// ListPartitions lists a CPC's partitions; name, if not "", is the HMC's
// name filter (a regular expression matching the whole name).
func (c *Client) ListPartitions(ctx context.Context, cpcURI, name string) ([]PartitionRef, error) {
	uri := cpcURI + "/partitions"
	if name != "" {
		uri += "?name=" + url.QueryEscape(name)
	}
	var v struct {
		Partitions []PartitionRef `json:"partitions"`
	}
	return v.Partitions, c.Get(ctx, uri, &v)
}

// GetPartition reads a partition's properties.
func (c *Client) GetPartition(ctx context.Context, uri string) (*Partition, error) {
	var v Partition
	return &v, c.Get(ctx, uri, &v)
}

// Create posts props to a collection URI and returns the new object's
// URI from object-uri or element-uri (or the Location header).
func (c *Client) Create(ctx context.Context, collection string, props map[string]any) (string, error) {
	r, err := c.Post(ctx, collection, props)
	if err != nil {
		return "", err
	}
	var v struct {
		ObjectURI  string `json:"object-uri"`
		ElementURI string `json:"element-uri"`
	}
	_ = r.Decode(&v)
	switch {
	case v.ObjectURI != "":
		return v.ObjectURI, nil
	case v.ElementURI != "":
		return v.ElementURI, nil
	case r.Location != "":
		return r.Location, nil
	}
	return "", &Error{HTTPStatus: r.Status, Message: "create answered without the new object's URI", Method: http.MethodPost, URI: collection, Err: errors.New("no object-uri, element-uri or Location")}
}

// Update is Update Properties (POST to the object's URI, 204).
func (c *Client) Update(ctx context.Context, uri string, props map[string]any) error {
	_, err := c.Post(ctx, uri, props)
	return err
}

// GetNIC reads a NIC.
func (c *Client) GetNIC(ctx context.Context, uri string) (*NIC, error) {
	var v NIC
	return &v, c.Get(ctx, uri, &v)
}

// GetHBA reads an HBA.
func (c *Client) GetHBA(ctx context.Context, uri string) (*HBA, error) {
	var v HBA
	return &v, c.Get(ctx, uri, &v)
}

// GetVirtualSwitch reads a virtual switch by object id.
func (c *Client) GetVirtualSwitch(ctx context.Context, id string) (*VirtualSwitch, error) {
	var v VirtualSwitch
	return &v, c.Get(ctx, VirtualSwitchURI(id), &v)
}

// GetAdapter reads an adapter by object id.
func (c *Client) GetAdapter(ctx context.Context, id string) (*Adapter, error) {
	var v Adapter
	return &v, c.Get(ctx, AdapterURI(id), &v)
}
