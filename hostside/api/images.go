package api

func (h *Handler) importImage(c *call) (any, error) {
	m, err := c.body(schemaImageImport)
	if err != nil {
		return nil, err
	}
	im := getObj(m, "image")
	spec := ImageImport{
		ImageName:  getStr(im, "image_name"),
		URL:        getStr(im, "url"),
		RemoteHost: getStr(im, "remote_host"),
		ImageMeta:  map[string]string{},
	}
	if e := checkName("image_name", spec.ImageName); e != nil {
		return nil, e
	}
	if p := fileURLPath(spec.URL); p != "" && spec.RemoteHost == "" {
		if e := h.checkSource("url", p); e != nil {
			return nil, e
		}
	}
	for k, v := range getObj(im, "image_meta") {
		spec.ImageMeta[k], _ = v.(string)
	}
	return h.withImage(c, spec.ImageName, func() (any, error) {
		return nil, h.b.ImportImage(c.ctx, spec)
	})
}

// queryImages is GET /images[?imagename=n]. The original's query schema
// allows one imagename (image_list maxItems 1).
func (h *Handler) queryImages(c *call) (any, error) {
	q := c.r.URL.Query()["imagename"]
	if len(q) > 1 {
		l := make([]any, len(q))
		for i, s := range q {
			l[i] = s
		}
		return nil, validationError("Invalid input for query parameters imagename. Value: " + pyRepr(l) + ". " + pyRepr(l) + " is too long")
	}
	name := ""
	if len(q) == 1 {
		name = q[0]
	}
	ims, err := h.b.QueryImages(c.ctx, name)
	if err != nil {
		return nil, err
	}
	if ims == nil {
		ims = []Image{}
	}
	return ims, nil
}

func (h *Handler) deleteImage(c *call) (any, error) {
	name := c.r.PathValue("name")
	if e := checkName("name", name); e != nil {
		return nil, e
	}
	return h.withImage(c, name, func() (any, error) {
		return nil, h.b.DeleteImage(c.ctx, name)
	})
}

func (h *Handler) rootDiskSize(c *call) (any, error) {
	if e := checkName("name", c.r.PathValue("name")); e != nil {
		return nil, e
	}
	return h.b.ImageRootDiskSize(c.ctx, c.r.PathValue("name"))
}

func (h *Handler) exportImage(c *call) (any, error) {
	m, err := c.body(schemaImageExport)
	if err != nil {
		return nil, err
	}
	loc := getObj(m, "location")
	ex, ok := h.b.(Exporter)
	if !ok {
		return nil, notImplemented(ModImage, "image_export")
	}
	name := c.r.PathValue("name")
	if e := checkName("name", name); e != nil {
		return nil, e
	}
	if p := fileURLPath(getStr(loc, "dest_url")); p != "" && getStr(loc, "remote_host") == "" {
		if e := h.checkDest("dest_url", p); e != nil {
			return nil, e
		}
	}
	return h.withImage(c, name, func() (any, error) {
		return ex.ExportImage(c.ctx, name, ExportSpec{DestURL: getStr(loc, "dest_url"), RemoteHost: getStr(loc, "remote_host")})
	})
}
