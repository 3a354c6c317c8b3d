package kube

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/go-units"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// defaultClaimSize is a claim's request when the volume names no size.
const defaultClaimSize = "1Gi"

// fileKey is the key a config's or secret's content is stored under.
func fileKey(name string) string {
	k := strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	if len(validation.IsConfigMapKey(k)) > 0 {
		return "content"
	}
	return k
}

// content reads a config's or secret's bytes: its file, content or
// environment variable.
func (c *conv) content(kind, name string, f types.FileObjectConfig) ([]byte, error) {
	var b []byte
	switch {
	case f.File != "":
		data, err := os.ReadFile(f.File)
		if err != nil {
			return nil, refuse("", kind+"s."+name+".file", "reading %s: %v", f.File, err)
		}
		b = data
	case f.Environment != "":
		v, ok := c.p.Environment[f.Environment]
		if !ok {
			v, ok = os.LookupEnv(f.Environment)
		}
		if !ok {
			return nil, refuse("", kind+"s."+name+".environment", "variable %s is not set", f.Environment)
		}
		b = []byte(v)
	default:
		b = []byte(f.Content)
	}
	if len(b) > maxData {
		return nil, refuse("", kind+"s."+name, "%d bytes do not fit a %s (1 MiB at most)", len(b), map[string]string{"config": "ConfigMap", "secret": "Secret"}[kind])
	}
	return b, nil
}

// used says whether a service of the project mounts the config or secret.
func (c *conv) used(secret bool, name string) bool {
	for _, s := range c.p.Services {
		refs := s.Configs
		if secret {
			refs = nil
			for _, r := range s.Secrets {
				refs = append(refs, types.ServiceConfigObjConfig(r))
			}
		}
		for _, r := range refs {
			if r.Source == name {
				return true
			}
		}
	}
	return false
}

// configsAndSecrets make a ConfigMap per config and a Secret per secret a
// service mounts.
func (c *conv) configsAndSecrets() error {
	for _, name := range sortedKeys(c.p.Configs) {
		meta, b, ok, err := c.fileObject("config", "ConfigMap", name, types.FileObjectConfig(c.p.Configs[name]))
		if !ok || err != nil {
			return err
		}
		cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta}
		setData(cm, fileKey(name), b)
		c.configMaps = append(c.configMaps, cm)
	}
	for _, name := range sortedKeys(c.p.Secrets) {
		meta, b, ok, err := c.fileObject("secret", "Secret", name, types.FileObjectConfig(c.p.Secrets[name]))
		if !ok || err != nil {
			return err
		}
		c.secrets = append(c.secrets, &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: meta, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{fileKey(name): b}})
	}
	return nil
}

// fileObject is what the ConfigMap (kind config) or Secret (kind secret)
// of the top-level f named name is made of: its metadata, with the
// compose label and f's labels, and its bytes. ok is false, with no
// error, when no service mounts it or it is external (warned): then no
// object is made.
func (c *conv) fileObject(kind, objKind, name string, f types.FileObjectConfig) (metav1.ObjectMeta, []byte, bool, error) {
	if !c.used(kind == "secret", name) {
		return metav1.ObjectMeta{}, nil, false, nil
	}
	n := objectName(name)
	if f.External {
		c.warnPart("", kind+"s."+name+".external", fmt.Sprintf("no %s is made: one named %q must exist in the namespace", objKind, n))
		return metav1.ObjectMeta{}, nil, false, nil
	}
	b, err := c.content(kind, name, f)
	if err != nil {
		return metav1.ObjectMeta{}, nil, false, err
	}
	if err := c.claim(objKind, n, fmt.Sprintf("%s %q", kind, name)); err != nil {
		return metav1.ObjectMeta{}, nil, false, err
	}
	meta := c.meta(n, "")
	meta.Labels["com.docker.compose."+kind] = name
	l, _ := userLabels(f.Labels)
	meta.Labels = merge(meta.Labels, l)
	return meta, b, true, nil
}

// setData puts b in cm under key: as text when it is UTF-8, as binary
// data otherwise.
func setData(cm *corev1.ConfigMap, key string, b []byte) {
	if utf8.Valid(b) {
		cm.Data = map[string]string{key: string(b)}
	} else {
		cm.BinaryData = map[string][]byte{key: b}
	}
}

// volumes make a PersistentVolumeClaim per named volume a service mounts.
func (c *conv) volumes() error {
	for _, name := range sortedKeys(c.p.Volumes) {
		v := c.p.Volumes[name]
		users, pods := 0, 0
		for _, s := range c.p.Services {
			for _, m := range s.Volumes {
				if m.Type == types.VolumeTypeVolume && m.Source == name {
					users++
					pods += max(1, s.GetScale())
					break
				}
			}
		}
		if users == 0 {
			continue
		}
		if pods > 1 {
			c.warn("", "volume %q is mounted by %d pods: its claim is ReadWriteOnce, so they must run on one node", name, pods)
		}
		if v.External {
			c.warnPart("", "volumes."+name+".external", fmt.Sprintf("no claim is made: one named %q must exist in the namespace", objectName(name)))
			continue
		}
		if v.Driver != "" && v.Driver != "local" {
			c.warnKey("", "volumes."+name+".driver", v.Driver+": the storage class decides")
		}
		size := defaultClaimSize
		for _, k := range sortedKeys(v.DriverOpts) {
			if k == "size" {
				size = v.DriverOpts[k]
			}
		}
		q, err := parseSize(size)
		if err != nil {
			return refuse("", "volumes."+name+".driver_opts.size", "%q is not a size", size)
		}
		n := objectName(name)
		if err := c.claim("PersistentVolumeClaim", n, fmt.Sprintf("volume %q", name)); err != nil {
			return err
		}
		pvc := &corev1.PersistentVolumeClaim{TypeMeta: typeMeta("v1", "PersistentVolumeClaim"), ObjectMeta: c.meta(n, ""),
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}},
			}}
		pvc.Labels["com.docker.compose.volume"] = name
		l, _ := userLabels(v.Labels)
		pvc.Labels = merge(pvc.Labels, l)
		if c.o.StorageClass != "" {
			pvc.Spec.StorageClassName = ptr(c.o.StorageClass)
		}
		c.claims = append(c.claims, pvc)
	}
	return nil
}

// parseSize reads a size in Kubernetes' form (5Gi) or Docker's (5g, 5GB,
// 64m: binary units, as docker reads them).
func parseSize(s string) (resource.Quantity, error) {
	if strings.HasSuffix(s, "i") {
		return resource.ParseQuantity(s)
	}
	n, err := units.RAMInBytes(s)
	if err != nil {
		return resource.Quantity{}, err
	}
	return *resource.NewQuantity(n, resource.BinarySI), nil
}

// mounts give the pod its volumes and the container its mounts.
func (c *conv) mounts(s types.ServiceConfig, pod *corev1.PodSpec, ctr *corev1.Container) error {
	add := func(v corev1.Volume, m corev1.VolumeMount) {
		v.Name = fmt.Sprintf("%s-%d", v.Name, len(pod.Volumes))
		m.Name = v.Name
		pod.Volumes = append(pod.Volumes, v)
		ctr.VolumeMounts = append(ctr.VolumeMounts, m)
	}
	memory := func(size int64) corev1.VolumeSource {
		ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		if size > 0 {
			ed.SizeLimit = resource.NewQuantity(size, resource.BinarySI)
		}
		return corev1.VolumeSource{EmptyDir: ed}
	}
	for i, v := range s.Volumes {
		key := fmt.Sprintf("volumes[%d]", i)
		m := corev1.VolumeMount{MountPath: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume:
			if v.Volume != nil && v.Volume.Subpath != "" {
				m.SubPath = v.Volume.Subpath
			}
			if v.Source == "" {
				add(corev1.Volume{Name: "anon", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, m)
				continue
			}
			vol := c.p.Volumes[v.Source]
			claim := objectName(v.Source)
			if vol.External && vol.Name != "" {
				claim = objectName(vol.Name)
			}
			add(corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: v.ReadOnly}}}, m)
		case types.VolumeTypeTmpfs:
			var size int64
			if v.Tmpfs != nil {
				size = int64(v.Tmpfs.Size)
			}
			add(corev1.Volume{Name: "tmpfs", VolumeSource: memory(size)}, m)
		case types.VolumeTypeBind:
			if err := c.bind(s, key, v, add); err != nil {
				return err
			}
		default:
			c.warnPart(s.Name, key, fmt.Sprintf("a mount of type %s at %s has no Kubernetes form and is left out", v.Type, v.Target))
		}
	}
	for _, t := range s.Tmpfs {
		target, opts, _ := strings.Cut(t, ":")
		var size int64
		for _, o := range strings.Split(opts, ",") {
			if v, ok := strings.CutPrefix(o, "size="); ok {
				q, err := parseSize(v)
				if err != nil {
					return refuse(s.Name, "tmpfs", "%q is not a size", v)
				}
				size = q.Value()
			} else if o != "" {
				c.warnPart(s.Name, "tmpfs", fmt.Sprintf("option %s of %s is left out: an emptyDir takes a size only", o, target))
			}
		}
		add(corev1.Volume{Name: "tmpfs", VolumeSource: memory(size)}, corev1.VolumeMount{MountPath: target})
	}
	if s.ShmSize > 0 {
		add(corev1.Volume{Name: "shm", VolumeSource: memory(int64(s.ShmSize))}, corev1.VolumeMount{MountPath: "/dev/shm"})
	}
	for _, r := range s.Configs {
		target := r.Target
		if target == "" {
			target = "/" + r.Source
		} else if !path.IsAbs(target) {
			target = "/" + target
		}
		name := objectName(r.Source)
		if cfg := c.p.Configs[r.Source]; cfg.External && cfg.Name != "" {
			name = objectName(cfg.Name)
		}
		item := corev1.KeyToPath{Key: fileKey(r.Source), Path: fileKey(r.Source), Mode: mode(r.Mode)}
		add(corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Items: []corev1.KeyToPath{item}}}},
			corev1.VolumeMount{MountPath: target, SubPath: item.Path, ReadOnly: true})
	}
	for _, r := range s.Secrets {
		target := r.Target
		if target == "" {
			target = "/run/secrets/" + r.Source
		} else if !path.IsAbs(target) {
			target = "/run/secrets/" + target
		}
		name := objectName(r.Source)
		if sec := c.p.Secrets[r.Source]; sec.External && sec.Name != "" {
			name = objectName(sec.Name)
		}
		item := corev1.KeyToPath{Key: fileKey(r.Source), Path: fileKey(r.Source), Mode: mode(r.Mode)}
		add(corev1.Volume{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: name, Items: []corev1.KeyToPath{item}}}},
			corev1.VolumeMount{MountPath: target, SubPath: item.Path, ReadOnly: true})
	}
	return nil
}

func mode(m *types.FileMode) *int32 {
	if m == nil {
		return nil
	}
	return ptr(int32(*m & 0o777))
}

// bind turns a bind mount into a ConfigMap when asked and the source is a
// small regular file; it refuses every other bind, since the host's files
// are not on the cluster's nodes.
func (c *conv) bind(s types.ServiceConfig, key string, v types.ServiceVolumeConfig, add func(corev1.Volume, corev1.VolumeMount)) error {
	if !c.o.BindAsConfigMap {
		return refuse(s.Name, "volumes", "bind mount of %s at %s: the host's files are not on the cluster's nodes (use a named volume, or --bind-as-configmap for a file of at most 1 MiB)", v.Source, v.Target)
	}
	fi, err := os.Stat(v.Source)
	switch {
	case err != nil:
		return refuse(s.Name, "volumes", "bind mount of %s at %s: %v", v.Source, v.Target, err)
	case !fi.Mode().IsRegular():
		return refuse(s.Name, "volumes", "bind mount of %s at %s: --bind-as-configmap takes a regular file, not a directory or device", v.Source, v.Target)
	case fi.Size() > maxData:
		return refuse(s.Name, "volumes", "bind mount of %s at %s: %d bytes do not fit a ConfigMap (1 MiB at most)", v.Source, v.Target, fi.Size())
	}
	b, err := os.ReadFile(v.Source)
	if err != nil {
		return refuse(s.Name, "volumes", "bind mount of %s at %s: %v", v.Source, v.Target, err)
	}
	n := fmt.Sprintf("%s-%s", c.names[s.Name], strings.ReplaceAll(strings.ReplaceAll(key, "[", "-"), "]", ""))
	if err := c.claim("ConfigMap", n, fmt.Sprintf("the bind mounts of service %q", s.Name)); err != nil {
		return err
	}
	file := fileKey(filepath.Base(v.Source))
	cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: c.meta(n, s.Name)}
	setData(cm, file, b)
	c.configMaps = append(c.configMaps, cm)
	if !v.ReadOnly {
		c.warn(s.Name, "bind mount of %s at %s is a ConfigMap: read-only on the cluster", v.Source, v.Target)
	}
	add(corev1.Volume{Name: "bind", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: n}}}},
		corev1.VolumeMount{MountPath: v.Target, SubPath: file, ReadOnly: true})
	return nil
}
