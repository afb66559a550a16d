/// The Google API Discovery document served at `GET /fleet/v1/discovery` (id `fleet:v1`), written
/// for this server: fleet's resources and methods, plus our unit status and journal methods. Client
/// generators that read fleet's document can read this one.
enum APIDiscoveryDocument {
    static let json = #"""
    {
      "kind": "discovery#restDescription",
      "discoveryVersion": "v1",
      "id": "fleet:v1",
      "name": "fleet",
      "version": "v1",
      "title": "fleet API",
      "description": "Schedule systemd units across a cluster: units, their desired and current state, machines, systemd states, and (additions) unit status and journal from the machine running the unit.",
      "documentationLink": "docs/api.md",
      "protocol": "rest",
      "servicePath": "fleet/v1/",
      "basePath": "/fleet/v1/",
      "parameters": {
        "alt": {"type": "string", "description": "Data format for the response.", "default": "json", "enum": ["json"], "location": "query"}
      },
      "schemas": {
        "Machine": {
          "id": "Machine", "type": "object",
          "properties": {
            "id": {"type": "string"},
            "primaryIP": {"type": "string"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}}
          }
        },
        "MachinePage": {
          "id": "MachinePage", "type": "object",
          "properties": {
            "machines": {"type": "array", "items": {"$ref": "Machine"}},
            "nextPageToken": {"type": "string"}
          }
        },
        "MachineMetadataOp": {
          "id": "MachineMetadataOp", "type": "object",
          "properties": {
            "op": {"type": "string", "enum": ["add", "replace", "remove"]},
            "path": {"type": "string", "description": "/<machineID>/metadata/<key>"},
            "value": {"type": "object", "properties": {"value": {"type": "string"}}}
          }
        },
        "UnitOption": {
          "id": "UnitOption", "type": "object",
          "properties": {
            "section": {"type": "string"},
            "name": {"type": "string"},
            "value": {"type": "string"}
          }
        },
        "Unit": {
          "id": "Unit", "type": "object",
          "properties": {
            "name": {"type": "string"},
            "options": {"type": "array", "items": {"$ref": "UnitOption"}},
            "desiredState": {"type": "string", "enum": ["inactive", "loaded", "launched"]},
            "currentState": {"type": "string", "enum": ["inactive", "loaded", "launched"]},
            "machineID": {"type": "string"}
          }
        },
        "UnitPage": {
          "id": "UnitPage", "type": "object",
          "properties": {
            "units": {"type": "array", "items": {"$ref": "Unit"}},
            "nextPageToken": {"type": "string"}
          }
        },
        "UnitState": {
          "id": "UnitState", "type": "object",
          "properties": {
            "name": {"type": "string"},
            "hash": {"type": "string"},
            "machineID": {"type": "string"},
            "systemdLoadState": {"type": "string"},
            "systemdActiveState": {"type": "string"},
            "systemdSubState": {"type": "string"}
          }
        },
        "UnitStatePage": {
          "id": "UnitStatePage", "type": "object",
          "properties": {
            "states": {"type": "array", "items": {"$ref": "UnitState"}},
            "nextPageToken": {"type": "string"}
          }
        }
      },
      "resources": {
        "Machines": {
          "methods": {
            "List": {
              "id": "fleet.Machine.List", "httpMethod": "GET", "path": "machines",
              "parameters": {"nextPageToken": {"type": "string", "location": "query"}},
              "response": {"$ref": "MachinePage"}
            },
            "Patch": {
              "id": "fleet.Machine.Patch", "httpMethod": "PATCH", "path": "machines",
              "request": {"type": "array", "items": {"$ref": "MachineMetadataOp"}}
            }
          }
        },
        "Units": {
          "methods": {
            "List": {
              "id": "fleet.Unit.List", "httpMethod": "GET", "path": "units",
              "parameters": {"nextPageToken": {"type": "string", "location": "query"}},
              "response": {"$ref": "UnitPage"}
            },
            "Get": {
              "id": "fleet.Unit.Get", "httpMethod": "GET", "path": "units/{unitName}",
              "parameters": {"unitName": {"type": "string", "location": "path", "required": true}},
              "parameterOrder": ["unitName"],
              "response": {"$ref": "Unit"}
            },
            "Set": {
              "id": "fleet.Unit.Set", "httpMethod": "PUT", "path": "units/{unitName}",
              "parameters": {"unitName": {"type": "string", "location": "path", "required": true}},
              "parameterOrder": ["unitName"],
              "request": {"$ref": "Unit"}
            },
            "Delete": {
              "id": "fleet.Unit.Delete", "httpMethod": "DELETE", "path": "units/{unitName}",
              "parameters": {"unitName": {"type": "string", "location": "path", "required": true}},
              "parameterOrder": ["unitName"]
            },
            "Status": {
              "id": "fleet.Unit.Status", "httpMethod": "GET", "path": "units/{unitName}/status",
              "description": "text/plain status report from the agent of the machine running the unit.",
              "parameters": {
                "unitName": {"type": "string", "location": "path", "required": true},
                "machineID": {"type": "string", "location": "query", "description": "Required for global units."}
              },
              "parameterOrder": ["unitName"]
            },
            "Journal": {
              "id": "fleet.Unit.Journal", "httpMethod": "GET", "path": "units/{unitName}/journal",
              "description": "text/plain journal lines from the agent of the machine running the unit; chunked while following.",
              "parameters": {
                "unitName": {"type": "string", "location": "path", "required": true},
                "machineID": {"type": "string", "location": "query", "description": "Required for global units."},
                "lines": {"type": "integer", "location": "query", "default": "10"},
                "follow": {"type": "boolean", "location": "query", "default": "false"}
              },
              "parameterOrder": ["unitName"]
            }
          }
        },
        "UnitState": {
          "methods": {
            "List": {
              "id": "fleet.UnitState.List", "httpMethod": "GET", "path": "state",
              "parameters": {
                "nextPageToken": {"type": "string", "location": "query"},
                "machineID": {"type": "string", "location": "query"},
                "unitName": {"type": "string", "location": "query"}
              },
              "response": {"$ref": "UnitStatePage"}
            }
          }
        }
      }
    }
    """#
}
