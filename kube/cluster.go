package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-dev/berth/errclass"
)

// FieldManager is the name berth's server-side applies are made under.
const FieldManager = "berth"

// Cluster is the project operations (api.Service) on a Kubernetes
// cluster: the objects Convert makes, applied with server-side apply and
// found again by their labels. It links client-go's dynamic client and
// REST client, never the typed clientset, whose initialisation every berth
// command would pay for.
type Cluster struct {
	// Context is the kubeconfig context; Server its API server's URL.
	Context, Server string
	// namespace is the context's own, "" when it names none: then each
	// project's namespace is its name.
	namespace string
	cfg       *rest.Config
	dyn       dynamic.Interface
	core      rest.Interface
	mapper    *mapper
	scheme    *runtime.Scheme

	// Report shows progress, one line per object: kind, name, status, as
	// the local engine's reporter.
	Report func(kind, name, status string)
	// Warn gets a line for each key the cluster leaves out.
	Warn func(string)
	// Options are the conversion's choices beside the namespace.
	Options Options
	// Builder builds and pushes the images of up --build --push (Up with
	// o.Build.Push).
	Builder Builder
}

// Open connects to the cluster of the kubeconfig context name, the
// kubeconfig found as kubectl finds it (KUBECONFIG, else ~/.kube/config).
// It makes no request: an unreachable cluster fails the first operation.
func Open(name string) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: name})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	kctx, ok := raw.Contexts[name]
	if !ok {
		where := "~/.kube/config"
		if p := rules.GetExplicitFile(); p != "" {
			where = p
		} else if len(rules.Precedence) > 0 {
			where = strings.Join(rules.Precedence, ":")
		}
		return nil, errclass.New(errclass.ErrNotFound, "no context %q in the kubeconfig (%s)", name, where)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", name, err)
	}
	cfg.UserAgent = "berth"
	// a cluster that does not answer is said in seconds, not after TCP's
	// minutes; the streams of logs -f and exec stay open as long as they
	// last (no overall Timeout)
	cfg.Dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	cfg.QPS, cfg.Burst = 100, 200
	c := &Cluster{Context: name, Server: cfg.Host, namespace: kctx.Namespace, cfg: cfg, scheme: runtime.NewScheme()}
	if err := corev1.AddToScheme(c.scheme); err != nil {
		return nil, err
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", name, err)
	}
	rc := rest.CopyConfig(cfg)
	rc.GroupVersion = &corev1.SchemeGroupVersion
	rc.APIPath = "/api"
	rc.NegotiatedSerializer = serializer.NewCodecFactory(c.scheme).WithoutConversion()
	if c.core, err = rest.RESTClientFor(rc); err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", name, err)
	}
	c.mapper = &mapper{rest: c.core, docs: map[schema.GroupVersion]*metav1.APIResourceList{}}
	return c, nil
}

// Namespace is where project's objects are: the context's namespace when
// it names one, else the project's name made a DNS label.
func (c *Cluster) Namespace(project string) string {
	if c.namespace != "" {
		return c.namespace
	}
	return objectName(project)
}

// ownNamespace says whether the namespace of project is berth's to create
// and delete: it is when the context names none.
func (c *Cluster) ownNamespace() bool { return c.namespace == "" }

func (c *Cluster) report(kind, name, status string) {
	if c.Report != nil {
		c.Report(kind, name, status)
	}
}

// selector picks what berth made for project, services narrowing it.
func selector(project string, services ...string) string {
	s := LabelManagedBy + "=berth," + LabelProject + "=" + project
	switch len(services) {
	case 0:
	case 1:
		s += "," + LabelService + "=" + services[0]
	default:
		s += "," + LabelService + " in (" + strings.Join(services, ",") + ")"
	}
	return s
}

// fail is err of doing what, in words a user acts on: an unreachable
// cluster, a forbidden verb, an invalid object, each classed.
func (c *Cluster) fail(what string, err error) error {
	var status apierrors.APIStatus
	var uerr *url.Error
	switch {
	case errors.As(err, &status) && apierrors.IsForbidden(err):
		return errclass.New(errclass.ErrState, "%s: forbidden on context %q (RBAC): %s", what, c.Context, status.Status().Message)
	case errors.As(err, &status) && apierrors.IsUnauthorized(err):
		return errclass.New(errclass.ErrState, "%s: the credentials of context %q are not accepted: %s", what, c.Context, status.Status().Message)
	case errors.As(err, &status) && apierrors.IsInvalid(err):
		return errclass.New(errclass.ErrInvalid, "%s: %s", what, status.Status().Message)
	case errors.As(err, &status) && apierrors.IsNotFound(err):
		return errclass.New(errclass.ErrNotFound, "%s: %s", what, status.Status().Message)
	case errors.As(err, &status):
		return fmt.Errorf("%s: %s", what, status.Status().Message)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case errors.As(err, &uerr), strings.Contains(err.Error(), "connection refused"):
		return errclass.New(errclass.ErrUnavailable, "cannot reach the cluster of context %q at %s: %v", c.Context, c.Server, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Unsupported is the error of an operation the cluster backend does not
// do yet: one line, naming the command.
func Unsupported(command string) error {
	return fmt.Errorf("berth %s is not supported on a Kubernetes context yet: %w", command, errors.ErrUnsupported)
}
