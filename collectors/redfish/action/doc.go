// Package action performs the Redfish remediation actions the alerter calls:
// ComputerSystem.Reset with a reset type the system itself allows, and
// "boot to PXE once" (Boot.BootSourceOverrideTarget=Pxe, Once) for reimaging
// without virtual media.
//
// Each call checks what the BMC advertises before acting and returns an
// error naming the system and the value when the action is not allowed. It
// must not retry a POST (a reset must not run twice), decide whether an
// action is wise (the alerter's guards do), or log credentials.
package action
