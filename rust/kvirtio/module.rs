// SPDX-License-Identifier: GPL-2.0

//! [`module_virtio_driver!`](crate::module_virtio_driver): a virtio driver
//! module, registered with every bus the project supports.
//!
//! A module registers one driver per bus for its device type:
//!
//! - PCI: the transitional (`0x1000 + n`) and modern (`0x1040 + id`)
//!   device ids of its type, so `modinfo` lists them and udev (or mdev)
//!   autoloads the module for a matching device.
//!
//! The module's driver on each bus binds only devices of its own type,
//! so several rvirtio modules can be loaded side by side.

/// Declares a virtio driver module: the module around the driver, and the
/// driver registered on every supported bus (see the
/// [module documentation](crate::kvirtio::module)). Other `module!` fields
/// (`params`, ...) pass through.
///
/// ```ignore
/// kvirtio::module_virtio_driver! {
///     type: RvirtioRng,
///     name: "rvirtio_rng",
///     authors: ["rvirtio developers"],
///     description: "virtio entropy device",
///     license: "GPL",
/// }
/// ```
#[macro_export]
macro_rules! module_virtio_driver {
    (type: $drv:ty, name: $name:literal, $($rest:tt)*) => {
        ::kernel::pci_device_table!(
            RVIRTIO_PCI_TABLE,
            MODULE_PCI_TABLE,
            (),
            [
                (
                    ::kernel::pci::DeviceId::from_id(
                        ::kernel::pci::Vendor::REDHAT_QUMRANET,
                        $crate::kvirtio::pci::transitional_or_modern(
                            <$drv as $crate::kvirtio::driver::Driver>::DEVICE_ID,
                        ),
                    ),
                    (),
                ),
                (
                    ::kernel::pci::DeviceId::from_id(
                        ::kernel::pci::Vendor::REDHAT_QUMRANET,
                        $crate::kvirtio::pci::modern_id(
                            <$drv as $crate::kvirtio::driver::Driver>::DEVICE_ID,
                        ),
                    ),
                    (),
                ),
            ]
        );
        impl $crate::kvirtio::pci::PciIds for $drv {
            const PCI_TABLE: ::kernel::pci::IdTable<()> = &RVIRTIO_PCI_TABLE;
        }

        /// The module: one driver registration per bus.
        #[::kernel::prelude::pin_data]
        struct VirtioModule {
            #[pin]
            _pci: ::kernel::driver::Registration<
                ::kernel::pci::Adapter<$crate::kvirtio::pci::PciAdapter<$drv>>,
            >,
        }

        impl ::kernel::InPlaceModule for VirtioModule {
            fn init(
                module: &'static ::kernel::ThisModule,
            ) -> impl ::pin_init::PinInit<Self, ::kernel::error::Error> {
                ::kernel::try_pin_init!(Self {
                    _pci <- ::kernel::driver::Registration::new(
                        <Self as ::kernel::ModuleMetadata>::NAME,
                        module,
                    ),
                })
            }
        }

        ::kernel::prelude::module! {
            type: VirtioModule,
            name: $name,
            $($rest)*
        }
    };
}
