package launcher

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// defaultPath is the PATH tasks get when the agent has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// inherited are the only agent environment variables a task sees.
var inherited = []string{"PATH", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME"}

// baseEnv is the minimal environment taken over from the agent.
func baseEnv() map[string]string {
	env := map[string]string{"PATH": defaultPath}
	for _, k := range inherited {
		if v, ok := os.LookupEnv(k); ok && v != "" {
			env[k] = v
		}
	}
	return env
}

// taskEnv builds a task's environment, sorted: the base, HOME and TMPDIR
// conventions, the task's Env (which may override those), and finally the
// variables the agent owns, which the task cannot override: AGORA_TASK_ID,
// AGORA_FRAMEWORK_ID, AGORA_RUN, AGORA_SANDBOX, AGORA_MESSAGES (the
// sandbox's MessagesFile), PORT0..PORTn-1 and PORT.
func taskEnv(base map[string]string, spec Spec, sandbox string, run int) []string {
	env := make(map[string]string, len(base)+len(spec.Task.Env)+8)
	for k, v := range base {
		env[k] = v
	}
	env["HOME"] = sandbox
	env["PWD"] = sandbox
	for k, v := range spec.Task.Env {
		env[k] = v
	}
	env["AGORA_TASK_ID"] = string(spec.Task.TaskID)
	env["AGORA_FRAMEWORK_ID"] = string(spec.FrameworkID)
	env["AGORA_RUN"] = strconv.Itoa(run)
	env["AGORA_SANDBOX"] = sandbox
	env["AGORA_MESSAGES"] = filepath.Join(sandbox, MessagesFile)
	for i, p := range spec.Ports {
		env["PORT"+strconv.Itoa(i)] = strconv.FormatUint(p, 10)
	}
	if len(spec.Ports) > 0 {
		env["PORT"] = strconv.FormatUint(spec.Ports[0], 10)
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
