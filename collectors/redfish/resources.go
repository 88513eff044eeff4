package redfish

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// The Redfish resources the collector reads, with only the properties it
// uses. Decoding is lenient: encoding/json matches names case-insensitively,
// unknown properties (Oem) are ignored, and num accepts numbers, numeric
// strings and null without failing the document.

// num is an optional number.
type num struct {
	v  float64
	ok bool
}

func (n *num) UnmarshalJSON(b []byte) error {
	*n = num{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	s := string(b)
	if b[0] == '"' {
		u, err := strconv.Unquote(s)
		if err != nil {
			return nil
		}
		s = strings.TrimSpace(u)
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		*n = num{v, true}
	}
	return nil
}

// flexString accepts a string, or a number or bool written where a string
// belongs, without failing the document.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			*f = flexString(s)
		}
		return nil
	}
	if len(b) > 0 && b[0] != 'n' && b[0] != '{' && b[0] != '[' {
		*f = flexString(b)
	}
	return nil
}

// flexBool accepts true/false, "true"/"false" and null.
type flexBool struct{ v, ok bool }

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(string(bytes.TrimSpace(b)), `"`)) {
	case "true", "yes":
		*f = flexBool{true, true}
	case "false", "no":
		*f = flexBool{false, true}
	}
	return nil
}

type link struct {
	ID string `json:"@odata.id"`
}

type status struct {
	State        flexString
	Health       flexString
	HealthRollup flexString
}

// common is what every resource has.
type common struct {
	ODataID   string     `json:"@odata.id"`
	ODataType string     `json:"@odata.type"`
	ID        flexString `json:"Id"`
	MemberID  flexString `json:"MemberId"`
	Name      flexString
	Status    status
}

func (c *common) base() *common { return c }

// linkOnly reports a member that is only a link (not expanded).
func (c *common) linkOnly() bool { return c.ID == "" && c.Name == "" && c.ODataType == "" }

type resourceT interface{ base() *common }

type collection struct {
	Members   []json.RawMessage
	NextLink  string `json:"Members@odata.nextLink"`
	NextLink2 string `json:"@odata.nextLink"`
}

func (c *collection) next() string {
	if c.NextLink != "" {
		return c.NextLink
	}
	return c.NextLink2
}

type expandQuery struct {
	ExpandAll, Levels, Links, NoLinks bool
	MaxLevels                         int
}

type serviceRoot struct {
	common
	RedfishVersion            string
	Vendor, Product           string
	Systems, Chassis          link
	Managers, SessionService  link
	Links                     struct{ Sessions link }
	ProtocolFeaturesSupported *struct {
		ExpandQuery *expandQuery
		SelectQuery bool
	}
}

type system struct {
	common
	PowerState, BiosVersion, Manufacturer, Model flexString
	SerialNumber, SKU, HostName                  flexString
	ProcessorSummary                             struct {
		Count  num
		Model  flexString
		Status status
	}
	MemorySummary struct {
		TotalSystemMemoryGiB num
		Status               status
	}
	Processors, Memory, Storage, SimpleStorage link
	EthernetInterfaces, LogServices            link
}

type processor struct {
	common
	Model, ProcessorType     flexString
	TotalCores, TotalThreads num
	MaxSpeedMHz              num
}

type memory struct {
	common
	CapacityMiB      num
	MemoryDeviceType flexString
	Metrics          link
}

type eccCounts struct {
	CorrectableECCErrorCount   num
	UncorrectableECCErrorCount num
}

type memoryMetrics struct {
	common
	LifeTime, CurrentPeriod eccCounts
}

type storage struct {
	common
	Drives             []link
	StorageControllers []struct {
		common
	}
}

type drive struct {
	common
	CapacityBytes                 num
	FailurePredicted              flexBool
	PredictedMediaLifeLeftPercent num
	MediaType, Protocol, Model    flexString
}

type simpleStorage struct {
	common
	Devices []struct {
		Name          flexString
		CapacityBytes num
		Status        status
	}
}

type ethernetInterface struct {
	common
	LinkStatus flexString
	SpeedMbps  num
}

type chassis struct {
	common
	ChassisType, PowerState          flexString
	Thermal, Power                   link
	ThermalSubsystem, PowerSubsystem link
	Sensors, EnvironmentMetrics      link
	NetworkAdapters, LogServices     link
	Links                            struct{ ComputerSystems []link }
}

type threshold struct{ Reading num }

type thermal struct {
	common
	Temperatures []struct {
		common
		ReadingCelsius                                                         num
		UpperThresholdNonCritical, UpperThresholdCritical, UpperThresholdFatal num
		LowerThresholdNonCritical, LowerThresholdCritical, LowerThresholdFatal num
		PhysicalContext                                                        flexString
	}
	Fans []struct {
		common
		FanName         flexString
		Reading         num
		ReadingUnits    flexString
		PhysicalContext flexString
	}
	Redundancy []redundancy
}

type redundancy struct {
	common
	Mode flexString
}

type power struct {
	common
	PowerControl []struct {
		common
		PowerConsumedWatts, PowerCapacityWatts num
		PowerMetrics                           struct{ AverageConsumedWatts num }
	}
	Voltages []struct {
		common
		ReadingVolts                                   num
		UpperThresholdCritical, LowerThresholdCritical num
		PhysicalContext                                flexString
	}
	PowerSupplies []struct {
		common
		PowerInputWatts, PowerOutputWatts, LastPowerOutputWatts num
		PowerCapacityWatts, LineInputVoltage                    num
	}
	Redundancy []redundancy
}

type sensor struct {
	common
	Reading                   num
	ReadingType, ReadingUnits flexString
	PhysicalContext           flexString
	SpeedRPM                  num
	Thresholds                struct {
		UpperCaution, UpperCritical, UpperFatal threshold
		LowerCaution, LowerCritical, LowerFatal threshold
	}
}

type redundancyGroup struct {
	RedundancyType  flexString
	Status          status
	RedundancyGroup []link
}

type thermalSubsystem struct {
	common
	Fans          link
	FanRedundancy []redundancyGroup
}

type excerpt struct {
	Reading       num
	SpeedRPM      num
	DataSourceURI string `json:"DataSourceUri"`
}

type modernFan struct {
	common
	SpeedPercent    excerpt
	PhysicalContext flexString
}

type powerSubsystem struct {
	common
	CapacityWatts         num
	PowerSupplies         link
	PowerSupplyRedundancy []redundancyGroup
}

type modernPSU struct {
	common
	PowerCapacityWatts num
	Metrics            link
}

type psuMetrics struct {
	common
	InputVoltage, InputPowerWatts, OutputPowerWatts, InputCurrentAmps excerpt
}

type environmentMetrics struct {
	common
	PowerWatts excerpt
}

type networkAdapter struct {
	common
	Ports, NetworkPorts link
	Manufacturer, Model flexString
}

type port struct {
	common
	LinkStatus         flexString
	PhysicalPortNumber flexString
	CurrentSpeedGbps   num
}

type manager struct {
	common
	FirmwareVersion, ManagerType, Model flexString
	LogServices                         link
}

type logService struct {
	common
	Entries        link
	ServiceEnabled flexBool
}

type logEntry struct {
	common
	Created, EventTimestamp      flexString
	Severity, Message, MessageID flexString
	EntryType, EntryCode         flexString
	SensorType, OemRecordFormat  flexString
	MessageArgs                  []flexString
	Links                        struct{ OriginOfCondition link }
}

// healthValue maps Status.Health to the metric value: OK 0, Warning 1,
// Critical 2; anything else (missing, vendor words) reports no sample.
func healthValue(h flexString) (float64, bool) {
	switch strings.ToLower(strings.TrimSpace(string(h))) {
	case "ok":
		return 0, true
	case "warning":
		return 1, true
	case "critical":
		return 2, true
	}
	return 0, false
}

// absent reports a component whose slot is empty.
func (s status) absent() bool {
	return strings.EqualFold(string(s.State), "Absent")
}
