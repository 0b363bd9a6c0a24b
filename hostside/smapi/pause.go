package smapi

import "context"

// FnImagePause halts or resumes a running virtual image's processors.
const FnImagePause = "Image_Pause"

// Image_Pause reason codes that are not failures (rc 0).
const (
	// RSImageNotActive: rc 0 rs 12, the image is not logged on (zthin
	// rcdescriptions.c: "Image not active").
	RSImageNotActive = 12
)

// ImagePause halts (pause) or resumes (!pause) target's processing.
// Its input is unusual: after the target identifier comes "PAUSE=YES" or
// "PAUSE=NO" with no length field (zthin vmapiImagePause.c, which smcli
// and with it the z/VM cloud connector's powerVM.pause/unpause use); the
// reply is the base output only (request id, rc, rs). active is false
// when SMAPI answered rc 0 rs 12: the image is not logged on.
func (c *Client) ImagePause(ctx context.Context, target string, pause bool) (active bool, err error) {
	kw := "PAUSE=NO"
	if pause {
		kw = "PAUSE=YES"
	}
	resp, err := c.Call(ctx, FnImagePause, target, []byte(kw))
	if err != nil {
		return false, err
	}
	return resp.RS != RSImageNotActive, nil
}
