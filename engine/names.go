package engine

import (
	"fmt"
	"strconv"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/record"
)

// The labels docker compose v2 puts on what it makes; berth puts the same,
// and finds a project's objects by them, so `ps`, `logs`, `stop` and
// `down` need no compose file (-p NAME is enough).
const (
	LabelProject     = "com.docker.compose.project"
	LabelService     = "com.docker.compose.service"
	LabelNumber      = "com.docker.compose.container-number"
	LabelOneoff      = "com.docker.compose.oneoff"
	LabelHash        = "com.docker.compose.config-hash"
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelVersion     = "com.docker.compose.version"
	LabelImage       = "com.docker.compose.image"
	LabelDependsOn   = "com.docker.compose.depends_on"
	LabelNetwork     = "com.docker.compose.network"
	LabelVolume      = "com.docker.compose.volume"
	// LabelReplace is on a recreated container: its predecessor's ID.
	LabelReplace = "com.docker.compose.replace"
	// LabelEnvFiles lists the --env-file (or COMPOSE_ENV_FILES) files.
	LabelEnvFiles = "com.docker.compose.project.environment_file"
)

// ComposeVersion is what berth writes in com.docker.compose.version: the
// docker compose release whose behaviour it follows.
const ComposeVersion = "2.40.3"

// ContainerName is a service container's name, <project>-<service>-<n>,
// unless the service sets container_name.
func ContainerName(project, service, containerName string, n int) string {
	if containerName != "" {
		return containerName
	}
	return fmt.Sprintf("%s-%s-%d", project, service, n)
}

// OneoffName is a `run` container's name, <project>-<service>-run-<12 hex>.
func OneoffName(project, service, id string) string {
	return fmt.Sprintf("%s-%s-run-%s", project, service, id[:12])
}

// members are the project's containers, found by label.
func members(all []record.Entry, project string) []api.Member {
	var out []api.Member
	for _, e := range all {
		l := e.Record.Config.Labels
		if l[LabelProject] != project {
			continue
		}
		n, _ := strconv.Atoi(l[LabelNumber])
		out = append(out, api.Member{Entry: e, Service: l[LabelService], Number: n, Oneoff: l[LabelOneoff] == "True", Hash: l[LabelHash]})
	}
	return out
}
