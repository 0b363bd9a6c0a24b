package dpm

import "testing"

func TestStorageGroupOf(t *testing.T) {
	for in, want := range map[string]string{
		"/api/storage-groups/sg1/storage-volumes/vol1": "/api/storage-groups/sg1",
		"/api/storage-groups/sg1/storage-volumes/":     "",
		"/api/storage-groups//storage-volumes/vol1":    "",
		"/api/storage-groups/sg1":                      "",
		"/api/storage-groups/a/b/storage-volumes/v":    "",
		"/api/partitions/p/storage-volumes/v":          "",
	} {
		if got := storageGroupOf(in); got != want {
			t.Errorf("storageGroupOf(%q) = %q, want %q", in, got, want)
		}
	}
}
